"""`deploy ...`: Deployments across every cluster: list, history, status, and the changes that
move a rollout (scale, restart, set-image, rollback), each followed until it completes, fails or
times out, as `kubectl rollout status` does."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cockpit import format as fmt
from cockpit.commands.nodes import CLUSTER_OPT, snapshots, with_kind_errors
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table, question
from cockpit.contracts import CLUSTERS, BackendError, BackendTimeout, BadInput, Cancelled, CockpitError
from cockpit.model_kube import Deployment, RolloutState
from cockpit.ops.journal import Watch
from cockpit.serialize import to_jsonable

WORKLOAD = Param("deployment", "the Deployment, as CLUSTER/NAMESPACE/NAME (or NAMESPACE/NAME with one cluster)",
                 kind="workload", required=True, metavar="CLUSTER/NS/NAME")
NS_OPT = Param("--namespace", "only this namespace", metavar="NS")
TIMEOUT = Param("--timeout", "how long to follow the rollout (default 5m)", kind="duration", metavar="DURATION")
DEFAULT_TIMEOUT = 300.0


def deploy_dict(d: Deployment) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable(d)
    out.update(ref=d.ref, rollout=d.rollout.value)
    return out


def ready_text(d: Deployment) -> str:
    return f"{d.ready}/{d.replicas}"


def deploy_table(items: list[Deployment], now: datetime) -> Table:
    rows = tuple((d.ref, ready_text(d), str(d.updated), str(d.available), d.rollout.value, str(d.revision),
                  str(d.gpus_per_replica * d.replicas) if d.gpus_per_replica else "-", d.model or "-",
                  ",".join(d.images), fmt.age(d.created_at, now)) for d in items)
    return Table(("DEPLOYMENT", "READY", "UP-TO-DATE", "AVAILABLE", "ROLLOUT", "REV", "GPUS", "MODEL", "IMAGES",
                  "AGE"), rows)


def _list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps, error = snapshots(ctx, args)
        items = [d for s in snaps for d in s.deployments if not args["namespace"] or d.namespace == args["namespace"]]
        return Outcome(data=[deploy_dict(d) for d in items], table=deploy_table(items, ctx.hub.now()),
                       error=with_kind_errors(error, snaps, "deployments"))

    return Plan("deploy list", "list deployments", run)


def _history(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name = args["deployment"]
    ref = f"{source}/{ns}/{name}"

    def run() -> Outcome:
        d = ctx.hub.call(source, CLUSTERS, lambda b: b.deployment(ns, name))
        revs = ctx.hub.call(source, CLUSTERS, lambda b: b.history(ns, name))
        now = ctx.hub.now()
        rows = tuple((str(r.number) + (" *" if r.number == d.revision else ""), ",".join(r.images), r.model or "-",
                      str(r.replicas), fmt.age(r.created_at, now), r.change_cause or "-") for r in revs)
        return Outcome(data={"ref": ref, "current": d.revision, "revisions": to_jsonable(revs)},
                       table=Table(("REVISION", "IMAGES", "MODEL", "PODS", "AGE", "CHANGE-CAUSE"), rows))

    return Plan("deploy history", f"history of {ref}", run, source=source, target=ref)


def follow(ctx: Context, source: str, ns: str, name: str, timeout: float, watch: Watch | None = None
           ) -> tuple[Deployment, list[str], CockpitError | None]:
    """Poll the Deployment until its rollout completes, fails or `timeout` passes; the messages
    seen on the way are the progress report (told to `watch` as they come). A watch that is
    cancelled stops following; the rollout itself goes on."""
    ref = f"{source}/{ns}/{name}"
    started = time.monotonic()
    seen: list[str] = []
    last = None
    delay = 0.2
    while True:
        d = ctx.hub.call(source, CLUSTERS, lambda b: b.deployment(ns, name))
        if d.rollout_message != last:
            last = d.rollout_message
            seen.append(f"{time.monotonic() - started:5.1f}s  {d.rollout_message}")
            if watch is not None:
                watch.progress(f"{ref}: {d.rollout_message}")
            elif ctx.progress is not None:
                ctx.progress(f"{ref}: {d.rollout_message}")
        if d.rollout in (RolloutState.COMPLETE, RolloutState.SCALED_DOWN):
            return d, seen, None
        if d.rollout is RolloutState.FAILED:
            return d, seen, BackendError(f"{ref}: rollout failed: {d.rollout_message}")
        if d.rollout is RolloutState.PAUSED:
            return d, seen, BackendError(f"{ref}: the rollout is paused (kubectl rollout resume)")
        if time.monotonic() - started >= timeout:
            return d, seen, BackendTimeout(f"{ref}: rollout not complete after {timeout:g}s: {d.rollout_message}")
        if watch is not None and watch.cancelled():
            return d, seen, Cancelled(f"{ref}: stopped following the rollout ({d.rollout_message}); "
                                      "it goes on: deploy status to follow it again")
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def _status(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name = args["deployment"]
    ref = f"{source}/{ns}/{name}"

    def run() -> Outcome:
        d, seen, error = follow(ctx, source, ns, name, args["timeout"] or DEFAULT_TIMEOUT)
        return Outcome(data=deploy_dict(d) | {"progress": seen}, text="\n".join([f"{ref}:", *seen]), error=error)

    return Plan("deploy status", f"follow the rollout of {ref}", run, source=source, target=ref)


def changed(ctx: Context, args: Mapping[str, Any], after: Deployment, new: dict[str, Any], what: str) -> Outcome:
    """The outcome of a change as applied, with its watch: the rollout followed to its end
    (the registry runs it unless the line says --no-wait)."""
    source, ns, name = after.source, after.namespace, after.name
    applied = Outcome(data=deploy_dict(after), text=f"{after.ref}: {what}; rollout {after.rollout.value}", new=new)

    def watch(w: Watch) -> Outcome:
        d, seen, error = follow(ctx, source, ns, name, args.get("timeout") or DEFAULT_TIMEOUT, w)
        text = "\n".join([f"{d.ref}: {what}", *seen])
        return Outcome(data=deploy_dict(d) | {"progress": seen}, text=text, error=error,
                       new=new | {"rollout": d.rollout.value})

    return replace(applied, watch=watch)


def _current(ctx: Context, args: Mapping[str, Any]) -> tuple[str, str, str, str, Deployment]:
    source, ns, name = args["deployment"]
    d: Deployment = ctx.hub.call(source, CLUSTERS, lambda b: b.deployment(ns, name))
    return source, ns, name, f"{source}/{ns}/{name}", d


def _scale(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name, ref, d = _current(ctx, args)
    n = args["replicas"]
    noop = f"{ref} already has {fmt.plural(n, 'replica')}" if d.replicas == n else None
    warnings = []
    if d.gpus_per_replica and n > d.replicas:
        warnings.append(f"needs {fmt.plural((n - d.replicas) * d.gpus_per_replica, 'more GPU', 'more GPUs')} "
                        f"({d.gpus_per_replica} per replica)")
    if n == 0:
        warnings.append(f"{ref} stops serving: every pod is removed")

    def run() -> Outcome:
        after = ctx.hub.call(source, CLUSTERS, lambda b: b.scale(ns, name, n))
        return changed(ctx, args, after, {"replicas": n}, f"scaled {d.replicas} -> {n}")

    summary = f"scale {ref} from {d.replicas} to {fmt.plural(n, 'replica')}"
    return Plan("deploy scale", summary, run, mutating=True, source=source, target=ref,
                confirm=question(summary), previous={"replicas": d.replicas},
                new={"replicas": n}, warnings=tuple(warnings), noop=noop)


def _restart(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name, ref, d = _current(ctx, args)

    def run() -> Outcome:
        after = ctx.hub.call(source, CLUSTERS, lambda b: b.restart(ns, name))
        return changed(ctx, args, after, {"revision": after.revision}, "restarted")

    summary = f"restart {ref}: replace its {fmt.plural(d.replicas, 'pod')} one by one (a new revision, same template)"
    return Plan("deploy restart", summary, run, mutating=True, source=source, target=ref,
                confirm=f"Restart {ref} ({fmt.plural(d.replicas, 'pod')})?", previous={"revision": d.revision})


def _rollback(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name, ref, d = _current(ctx, args)
    to = args["to_revision"]
    rev, _template, same = ctx.hub.call(source, CLUSTERS, lambda b: b.rollback_template(ns, name, to))
    noop = f"{ref} already runs the template of revision {rev.number}" if same else None
    images = ",".join(rev.images)
    model = f", model {rev.model}" if rev.model else ""

    def run() -> Outcome:
        after = ctx.hub.call(source, CLUSTERS, lambda b: b.rollback(ns, name, rev.number))
        return changed(ctx, args, after, {"revision": after.revision, "from_revision": rev.number,
                                          "images": list(after.images), "model": after.model},
                       f"rolled back to revision {rev.number}")

    summary = (f"roll back {ref} from revision {d.revision} ({','.join(d.images)}) to revision {rev.number} "
               f"({images}{model})")
    return Plan("deploy rollback", summary, run, mutating=True, source=source, target=ref,
                confirm=question(summary),
                previous={"revision": d.revision, "images": list(d.images), "model": d.model},
                new={"from_revision": rev.number, "images": list(rev.images), "model": rev.model}, noop=noop)


def _set_image(ctx: Context, args: Mapping[str, Any]) -> Plan:
    source, ns, name, ref, d = _current(ctx, args)
    wanted: dict[str, str] = {}
    for spec in args["image"]:
        container, eq, image = spec.partition("=")
        if not eq:
            if len(d.containers) != 1:
                raise BadInput(f"deploy set-image: {ref} has containers {', '.join(d.containers)}: "
                               "write CONTAINER=IMAGE")
            container, image = d.containers[0], spec
        if container not in d.containers:
            raise BadInput(f"deploy set-image: {ref} has no container {container!r} "
                           f"(containers: {', '.join(d.containers)})")
        if not image or any(ch.isspace() for ch in image):
            raise BadInput(f"deploy set-image: {spec!r}: not an image reference")
        wanted[container] = image
    before = dict(zip(d.containers, d.images, strict=False))
    noop = f"{ref} already runs {', '.join(wanted.values())}" if all(before.get(c) == i for c, i in wanted.items()) \
        else None

    def run() -> Outcome:
        after = ctx.hub.call(source, CLUSTERS, lambda b: b.set_image(ns, name, wanted))
        return changed(ctx, args, after, {"images": wanted}, "image set")

    changes = "; ".join(f"{c}: {before.get(c)} -> {i}" for c, i in wanted.items())
    return Plan("deploy set-image", f"set the image of {ref}: {changes}", run, mutating=True, source=source,
                target=ref, confirm=f"Roll out a new image to {ref}? {changes}",
                previous={"images": {c: before.get(c) for c in wanted}}, new={"images": wanted}, noop=noop)


def register(reg: Registry) -> None:
    follow_opts = (TIMEOUT,)
    reg.add(CommandSpec(("deploy", "list"), "list Deployments across clusters with their rollout state", _list,
                        (CLUSTER_OPT, NS_OPT)))
    reg.add(CommandSpec(("deploy", "history"), "list a Deployment's revisions (ReplicaSets) with images and models",
                        _history, (WORKLOAD,)))
    reg.add(CommandSpec(("deploy", "status"), "follow a rollout until it completes, fails or times out", _status,
                        (WORKLOAD, TIMEOUT)))
    reg.add(CommandSpec(("deploy", "scale"), "set a Deployment's replicas", _scale, (
        WORKLOAD, Param("replicas", "how many replicas", kind="count", required=True, metavar="N"), *follow_opts),
        mutating=True, capability="scale"))
    reg.add(CommandSpec(("deploy", "restart"), "replace every pod (kubectl rollout restart)", _restart,
                        (WORKLOAD, *follow_opts), mutating=True, capability="restart"))
    reg.add(CommandSpec(("deploy", "rollback"), "restore an earlier revision's template (kubectl rollout undo)",
                        _rollback, (WORKLOAD, Param("--to-revision", "the revision (default: the one before)",
                                                    kind="int", metavar="R"), *follow_opts), mutating=True,
                        capability="rollback", serves=True))
    reg.add(CommandSpec(("deploy", "set-image"), "roll out new container images", _set_image, (
        WORKLOAD, Param("image", "IMAGE, or CONTAINER=IMAGE for a pod with several containers", required=True,
                        repeat=True, metavar="[CONTAINER=]IMAGE"), *follow_opts),
        mutating=True, capability="set-image", serves=True))
