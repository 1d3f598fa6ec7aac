"""`hpa ...` and `isvc ...`: autoscaler bounds and KServe InferenceService canary traffic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.commands.nodes import CLUSTER_OPT, snapshots, with_kind_errors
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table, question
from cockpit.contracts import CLUSTERS, BadInput
from cockpit.model_kube import Hpa, InferenceService, traffic_text
from cockpit.serialize import to_jsonable

HPA = Param("hpa", "the HorizontalPodAutoscaler, as CLUSTER/NAMESPACE/NAME", kind="workload", required=True,
            metavar="CLUSTER/NS/NAME")
ISVC = Param("isvc", "the InferenceService, as CLUSTER/NAMESPACE/NAME", kind="workload", required=True,
             metavar="CLUSTER/NS/NAME")


def _hpa_list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps, error = snapshots(ctx, args)
        items = [h for s in snaps for h in s.hpas]
        rows = tuple((h.ref, f"{h.target_kind}/{h.target_name}", h.targets or "-", str(h.min_replicas),
                      str(h.max_replicas), str(h.current_replicas)) for h in items)
        return Outcome(data=[to_jsonable(h) | {"ref": h.ref} for h in items],
                       table=Table(("HPA", "REFERENCE", "TARGETS", "MIN", "MAX", "REPLICAS"), rows),
                       error=with_kind_errors(error, snaps, "hpas"))

    return Plan("hpa list", "list autoscalers", run)


def _hpa_set(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name = args["hpa"]
    ref = f"{source}/{ns}/{name}"
    if args["min"] is None and args["max"] is None:
        raise BadInput("hpa set: give --min N, --max N or both")
    h: Hpa = ctx.hub.call(source, CLUSTERS, lambda b: b.hpa(ns, name))
    lo = args["min"] if args["min"] is not None else h.min_replicas
    hi = args["max"] if args["max"] is not None else h.max_replicas
    if lo > hi:
        raise BadInput(f"hpa set: --min {lo} is above --max {hi}")
    noop = f"{ref} already scales {lo}..{hi}" if (lo, hi) == (h.min_replicas, h.max_replicas) else None
    warnings = []
    if not lo <= h.current_replicas <= hi:
        warnings.append(f"it runs {fmt.plural(h.current_replicas, 'replica')} now: the autoscaler will move it "
                        f"into {lo}..{hi}")

    def run() -> Outcome:
        after = ctx.hub.call(source, CLUSTERS, lambda b: b.hpa_set(ns, name, lo, hi))
        return Outcome(data=to_jsonable(after) | {"ref": ref},
                       text=f"{ref}: {after.min_replicas}..{after.max_replicas}",
                       new={"min": after.min_replicas, "max": after.max_replicas})

    summary = f"set the autoscaler {ref} from {h.min_replicas}..{h.max_replicas} to {lo}..{hi} replicas"
    return Plan("hpa set", summary, run, mutating=True, source=source, target=ref,
                confirm=question(summary), previous={"min": h.min_replicas, "max": h.max_replicas},
                new={"min": lo, "max": hi}, warnings=tuple(warnings), noop=noop)


def isvc_dict(i: InferenceService) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable(i)
    out["ref"] = i.ref
    return out


def _isvc_list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps, error = snapshots(ctx, args)
        items = [i for s in snaps for i in s.inference_services]
        now = ctx.hub.now()
        rows = tuple((i.ref, "True" if i.ready else "False", i.url or "-", i.storage_uri or "-",
                      "-" if i.canary_percent is None else f"{i.canary_percent}%", traffic_text(i),
                      i.latest_ready_revision or "-", fmt.age(i.created_at, now)) for i in items)
        notes = [f"{s.source}: {s.notes['inferenceservices']}" for s in snaps if "inferenceservices" in s.notes]
        return Outcome(data=[isvc_dict(i) for i in items], text="\n".join(notes) if notes and not items else None,
                       table=Table(("ISVC", "READY", "URL", "STORAGE", "CANARY", "TRAFFIC", "LATEST", "AGE"), rows),
                       error=with_kind_errors(error, snaps, "inferenceservices"))

    return Plan("isvc list", "list InferenceServices", run)


def _canary(command: str, percent_of: Any, verb: str) -> Any:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        source, ns, name = args["isvc"]
        ref = f"{source}/{ns}/{name}"
        i: InferenceService = ctx.hub.call(source, CLUSTERS, lambda b: b.inference_service(ns, name))
        percent: int | None = percent_of(args)
        noop = f"{ref}: canaryTrafficPercent is already {_pct(percent)}" if i.canary_percent == percent else None
        warnings = []
        if not i.previous_revision and percent is not None and percent < 100:
            latest = i.latest_ready_revision or "latest"
            warnings.append(f"{ref} has no previous revision: all traffic stays on {latest}")

        def run() -> Outcome:
            after = ctx.hub.call(source, CLUSTERS, lambda b: b.isvc_canary(ns, name, percent))
            return Outcome(data=isvc_dict(after), new={"canaryTrafficPercent": after.canary_percent,
                                                       "traffic": traffic_split(after)},
                           text=f"{ref}: canaryTrafficPercent {_pct(after.canary_percent)}; "
                                f"traffic {traffic_text(after)}")

        latest, prev = i.latest_ready_revision or "latest", i.previous_revision or "previous"
        share = {None: f"all traffic to {latest}", 0: f"all traffic back to {prev}"}.get(
            percent, f"{percent}% to {latest}, {100 - (percent or 0)}% to {prev}")
        summary = f"{verb} {ref}: canaryTrafficPercent {_pct(i.canary_percent)} -> {_pct(percent)} ({share})"
        return Plan(command, summary, run, mutating=True, source=source, target=ref,
                    confirm=question(summary),
                    previous={"canaryTrafficPercent": i.canary_percent, "traffic": traffic_split(i)},
                    new={"canaryTrafficPercent": percent, "traffic": planned_split(i, percent)},
                    warnings=tuple(warnings), noop=noop)

    return planner


def traffic_split(i: InferenceService) -> dict[str, int]:
    """{revision: percent} as KServe reports it: what the audit's CHANGE shows before and after."""
    return {t.revision or ("latest" if t.latest else "previous"): t.percent for t in i.traffic}


def planned_split(i: InferenceService, percent: int | None) -> dict[str, int]:
    """The split a canary percentage asks for: the latest revision gets `percent` (all when None),
    the previous one the rest (all traffic stays on the latest when there is no previous)."""
    latest, prev = i.latest_ready_revision or "latest", i.previous_revision
    if percent is None or percent >= 100 or not prev:
        return {latest: 100}
    return {prev: 100 - percent, latest: percent} if percent else {prev: 100}


def _pct(p: int | None) -> str:
    return "unset" if p is None else f"{p}%"


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("hpa", "list"), "list HorizontalPodAutoscalers", _hpa_list, (CLUSTER_OPT,)))
    reg.add(CommandSpec(("hpa", "set"), "set an autoscaler's minimum and maximum replicas", _hpa_set, (
        HPA, Param("--min", "minimum replicas", kind="int", metavar="N"),
        Param("--max", "maximum replicas", kind="int", metavar="N")), mutating=True, capability="hpa"))
    reg.add(CommandSpec(("isvc", "list"), "list KServe InferenceServices with canary traffic", _isvc_list,
                        (CLUSTER_OPT,)))
    reg.add(CommandSpec(("isvc", "canary"), "send PERCENT of traffic to the latest revision", _canary(
        "isvc canary", lambda a: a["percent"], "set canary traffic of"), (
        ISVC, Param("percent", "0..100", kind="percent", required=True, metavar="PERCENT")),
        mutating=True, capability="isvc", serves=True))
    reg.add(CommandSpec(("isvc", "promote"), "give the latest revision all traffic (removes canaryTrafficPercent)",
                        _canary("isvc promote", lambda a: None, "promote"), (ISVC,), mutating=True, capability="isvc",
                        serves=True))
    reg.add(CommandSpec(("isvc", "rollback"), "send all traffic back to the previous revision (canary 0%)",
                        _canary("isvc rollback", lambda a: 0, "roll back"), (ISVC,), mutating=True, capability="isvc",
                        serves=True))
