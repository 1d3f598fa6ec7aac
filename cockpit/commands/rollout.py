"""`rollout start`: a registry version to an InferenceService in guarded steps, promoted or rolled
back by its gates (cockpit.ops.rollout, cockpit.ops.gates), as one operation: the apply sends the
first step's traffic to the new revision, the watch walks the steps, and each shift, reading and
decision is a step of the operation's record. At the end the alias (with --promote-alias) moves
to the version; on a failed gate the traffic goes back to the stable and the alias stays.

Exit codes: 0 promoted, 1 rolled back / paused (no data) / aborted, 2 bad input, 3 refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.audit import current_user
from cockpit.commands.model_deploy import resolve_version
from cockpit.commands.models import MODEL, check_alias
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, question
from cockpit.commands.serving import isvc_dict
from cockpit.contracts import CLUSTERS, REGISTRY, SERIES, BadInput, Cancelled, CockpitError, NotFound
from cockpit.hub import Hub
from cockpit.model_kube import InferenceService
from cockpit.ops import rollout
from cockpit.ops.gates import Canary, Gate, Reading, parse_gate, query, reading
from cockpit.ops.journal import Watch


@dataclass
class IsvcTarget:
    """An InferenceService: traffic moves by canaryTrafficPercent; the canary's series are its
    latest revision's pods (`<revision>-deployment-...`)."""

    hub: Hub
    source: str
    ns: str
    name: str
    metrics: Mapping[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.ns}/{self.name}"

    def _set(self, percent: int | None) -> InferenceService:
        return self.hub.call(self.source, CLUSTERS, lambda b: b.isvc_canary(self.ns, self.name, percent))

    def shift(self, percent: int) -> str:
        i = self._set(percent)
        return f"{self.ref}: {percent}% to {i.latest_created_revision or 'the new revision'}"

    def promote(self) -> str:
        i = self._set(None)
        return f"{self.ref}: promoted: all traffic to {i.latest_created_revision or 'the new revision'}"

    def roll_back(self) -> str:
        i = self._set(0)
        return f"{self.ref}: rolled back: all traffic to {i.previous_revision or 'the stable revision'}"

    def canary(self) -> Canary:
        i = self.hub.call(self.source, CLUSTERS, lambda b: b.inference_service(self.ns, self.name))
        rev = i.latest_created_revision or i.latest_ready_revision
        m = self.metrics
        return Canary({"namespace": self.ns, "pod": f"~{rev}-.*"}, str(m.get("rate_window") or "2m"),
                      str(m.get("requests_metric") or "http_requests_total"),
                      str(m.get("latency_metric") or "http_request_duration_seconds"),
                      str(m.get("error_selector") or 'code=~"5.."'))


def _reader(hub: Hub, prom: str) -> Any:
    def read(gate: Gate, canary: Canary) -> Reading:
        try:
            found = hub.call(prom, SERIES, lambda b: b.query(query(gate, canary)))
        except CockpitError as e:  # Prometheus down or the query refused: no data, never a pass
            return reading(gate, [], hub.now(), e.message)
        return reading(gate, [s.last for s in found], hub.now())

    return read


def _prometheus(ctx: Context, args: Mapping[str, Any]) -> str:
    names = [s.name for s in ctx.hub.sources("series")]
    if args["prometheus"]:
        if args["prometheus"] not in names:
            raise BadInput(f"--prometheus: {args['prometheus']!r} is not a Prometheus source ({', '.join(names)})")
        return str(args["prometheus"])
    if len(names) != 1:
        raise BadInput("rollout start: name the Prometheus that reads the gates with --prometheus "
                       f"({', '.join(names) or 'none configured'})")
    return names[0]


def _check(args: Mapping[str, Any], hub: Hub) -> None:
    if not args["gate"]:
        raise BadInput("rollout start: give at least one --gate (e.g. --gate 'p95 < 800ms'); an unguarded "
                       "rollout is model deploy")
    for g in args["gate"]:
        parse_gate(g)
    rollout.parse_steps(args["steps"] or "10,25,50,100")
    if args["promote_alias"]:
        check_alias(args["promote_alias"])


def _start(ctx: Context, args: Mapping[str, Any]) -> Plan:
    reg, model = args["model"]
    cluster, ns, name = args["to"]
    ref = f"{cluster}/{ns}/{name}"
    spec = rollout.Spec(rollout.parse_steps(args["steps"] or "10,25,50,100"), args["interval"] or 120.0,
                        tuple(parse_gate(g) for g in args["gate"]), args["failures"] or 1)
    prom = _prometheus(ctx, args)
    mv = resolve_version(ctx, reg, model, args["alias"], args["version"], "rollout start")
    try:
        i: InferenceService = ctx.hub.call(cluster, CLUSTERS, lambda b: b.inference_service(ns, name))
    except NotFound:
        raise NotFound(f"{cluster}: no InferenceService {ns}/{name} (a guarded rollout of a Deployment is not "
                       "built yet: model deploy, then deploy rollback if it misbehaves)") from None
    storage = mv.source_uri
    if not storage or storage.startswith(("runs:/", "models:/")):
        raise BadInput(f"rollout start: {mv.name} v{mv.version} has source {storage or '(none)'!r}, which KServe "
                       "cannot load as a storageUri")
    if i.storage_uri == storage:
        raise BadInput(f"rollout start: {ref} already serves {storage}")
    promote_alias = args["promote_alias"]
    held = None
    if promote_alias:
        held = ctx.hub.call(reg, REGISTRY, lambda b: b.model(model)).alias(promote_alias)
    target = IsvcTarget(ctx.hub, cluster, ns, name, ctx.hub.source(prom).settings)
    first = spec.steps[0]

    def run() -> Outcome:
        ctx.hub.call(cluster, CLUSTERS, lambda b: b.isvc_canary(ns, name, first))
        after = ctx.hub.call(cluster, CLUSTERS, lambda b: b.isvc_storage(ns, name, storage))
        applied = {"storageUri": storage, "version": mv.version, "canaryTrafficPercent": first}

        def watch(w: Watch) -> Outcome:
            w.progress(f"{ref}: {first}% to {after.latest_created_revision or 'the new revision'} ({storage})")
            done = rollout.run(spec, target, _reader(ctx.hub, prom), w)
            story = [f"{ref}: {done.end.value} at {done.step}%: {done.why}", *done.readings]
            new = dict(applied) | {"end": done.end.value, "step": done.step}
            if done.end is rollout.End.PROMOTED:
                if promote_alias:
                    ctx.hub.call(reg, REGISTRY, lambda b: b.set_alias(model, promote_alias, mv.version, held,
                                                                       current_user()))
                    w.progress(f"{reg}/{model}: {promote_alias} -> v{mv.version} (was "
                               f"{'nothing' if held is None else f'v{held}'})")
                    new["alias"] = {promote_alias: mv.version}
                return Outcome(data={"end": done.end.value, "isvc": ref, "readings": list(done.readings)},
                               text="\n".join(story), new=new)
            error: CockpitError = (Cancelled(story[0]) if done.end is rollout.End.ABORTED else CockpitError(story[0]))
            return Outcome(data={"end": done.end.value, "isvc": ref, "readings": list(done.readings)},
                           text="\n".join(story), new=new, error=error)

        return Outcome(data=isvc_dict(after), new=applied, watch=watch,
                       text=f"{ref}: {first}% to the new revision ({storage}); not followed (--no-wait): op list")

    gates = ", ".join(g.text for g in spec.gates)
    steps = ", ".join(f"{s}%" for s in spec.steps)
    alias = f"; then {promote_alias} -> v{mv.version}" if promote_alias else ""
    summary = (f"roll out {mv.name} v{mv.version} ({storage}) to {ref} in steps {steps} every "
               f"{spec.interval_s:g}s while {gates} hold ({spec.failure_limit} failure(s) allowed; no data pauses)"
               f"{alias}")
    return Plan("rollout start", summary, run, mutating=True, source=cluster, target=ref, confirm=question(summary),
                previous={"storageUri": i.storage_uri or None, "canaryTrafficPercent": i.canary_percent,
                          **({"alias": {promote_alias: held}} if promote_alias else {})},
                new={"storageUri": storage, "version": mv.version, "canaryTrafficPercent": first})


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("rollout", "start"), "roll a registry version out to an InferenceService in guarded steps: "
                        "promoted when every gate holds, rolled back when one fails", _start, (
                            MODEL, Param("--alias", "ship the version this alias points at", metavar="ALIAS"),
                            Param("--version", "ship this version", kind="version", metavar="VERSION"),
                            Param("--to", "the InferenceService, as CLUSTER/NS/NAME", kind="workload",
                                  required=True, metavar="CLUSTER/NS/NAME"),
                            Param("--steps", "canary traffic per step, ending at 100 (default 10,25,50,100)",
                                  metavar="P,P,..."),
                            Param("--interval", "how long each step runs before its gates are read (default 2m)",
                                  kind="duration", metavar="DURATION"),
                            Param("--gate", "what must hold of the canary: 'p95 < 800ms', 'error_rate < 1%', "
                                  "'gpu_util < 95%', 'rps > 5', 'promql:EXPR < 3' (repeatable)", repeat=True,
                                  metavar="GATE"),
                            Param("--failures", "failed readings of one gate that roll back (default 1)", kind="int",
                                  metavar="N"),
                            Param("--prometheus", "the Prometheus source that reads the gates", kind="source",
                                  metavar="SOURCE"),
                            Param("--promote-alias", "the alias that moves to the version when promoted",
                                  metavar="ALIAS")),
                        mutating=True, capability="isvc", acts_on="to", check=_check))
