"""`rollout start`: a registry version to an InferenceService in guarded steps, promoted or rolled
back by its gates (cockpit.ops.rollout, cockpit.ops.gates), as one operation: the apply sends the
first step's traffic to the new revision, the watch walks the steps, and each shift, reading and
decision is a step of the operation's record. At the end the alias (with --promote-alias) moves
to the version; on a failed gate the traffic goes back to the stable and the alias stays.

Exit codes: 0 promoted, 1 rolled back / paused (no data) / aborted, 2 bad input, 3 refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.audit import current_user
from cockpit.commands.model_deploy import SHIPPED, resolve_version
from cockpit.commands.models import MODEL, check_alias
from cockpit.commands.ops import OP_ID, find, op_dict
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, question
from cockpit.contracts import CLUSTERS, REGISTRY, SERIES, BadInput, Cancelled, CockpitError, NotFound, Refused
from cockpit.hub import Hub
from cockpit.model_kube import Deployment, InferenceService, Revision
from cockpit.model_registry import ModelVersion
from cockpit.ops import rollout
from cockpit.ops.busy import all_operations, in_the_way_text, rollout_in_the_way
from cockpit.ops.control import alive_op, send
from cockpit.ops.gates import Canary, Gate, Reading, parse_gate, query, reading
from cockpit.ops.journal import Operation, OpState, Watch
from cockpit.ops.readback import read_back
from cockpit.ops.record import CURRENT, OpRecorder
from cockpit.ops.rollout_view import summary, view


@dataclass
class _Workload:
    """Where a rollout's traffic moves: one workload of one cluster, and the Prometheus settings
    that name its series."""

    hub: Hub
    source: str
    ns: str
    name: str
    metrics: Mapping[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.ns}/{self.name}"


@dataclass
class IsvcTarget(_Workload):
    """An InferenceService: traffic moves by canaryTrafficPercent; the canary's series are its
    latest revision's pods (`<revision>-deployment-...`)."""

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
        return _canary({"namespace": self.ns, "pod": f"~{rev}-.*"}, self.metrics)

    def stable(self) -> Canary | None:
        """The previous revision's pods; none known, nothing read (a `NAME-predictor-.*` pattern
        would take in the canary's pods too)."""
        i = self.hub.call(self.source, CLUSTERS, lambda b: b.inference_service(self.ns, self.name))
        if not i.previous_revision:
            return None
        return _canary({"namespace": self.ns, "pod": f"~{i.previous_revision}-.*"}, self.metrics)


@dataclass
class DeploymentTarget(_Workload):
    """A plain Deployment: a canary Deployment `NAME-canary` beside it runs the new model (one env
    var) with a `track: canary` label; its share of the Service's traffic is its share of the
    pods, so a step of P% scales it to P/(100-P) of the stable's replicas. Promotion rolls the
    stable to the new model and removes the canary; a roll back removes the canary."""

    container: str = ""
    key: str = ""
    value: str = ""
    stable_replicas: int = 1

    def replicas_for(self, percent: int) -> int:
        return max(1, round(self.stable_replicas * percent / (100 - percent)))

    def shift(self, percent: int) -> str:
        if percent >= 100:
            return f"{self.ref}: 100% step: promoting"
        n = self.replicas_for(percent)
        self.hub.call(self.source, CLUSTERS, lambda b: b.canary_deployment(self.ns, self.name, self.container,
                                                                          self.key, self.value, n))
        return f"{self.ref}: canary {n} pod(s) beside {self.stable_replicas} (~{percent}% of traffic)"

    def promote(self) -> str:
        self.hub.call(self.source, CLUSTERS, lambda b: b.set_env(self.ns, self.name, self.container, self.key,
                                                                 self.value))
        self.hub.call(self.source, CLUSTERS, lambda b: b.delete_deployment(self.ns, f"{self.name}-canary"))
        return f"{self.ref}: promoted: the stable rolls to {self.value}; canary removed"

    def roll_back(self) -> str:
        with contextlib.suppress(NotFound):  # never created, or already gone
            self.hub.call(self.source, CLUSTERS, lambda b: b.delete_deployment(self.ns, f"{self.name}-canary"))
        return f"{self.ref}: rolled back: canary removed, all traffic on the stable"

    def canary(self) -> Canary:
        """The pods of the canary's newest ReplicaSet only: an earlier rollout's canary had the same
        Deployment name, and its series stay in a rate window for minutes after its pods are gone (a
        bad version read by a good one's figures would promote itself)."""
        revs = self._replicasets(f"{self.name}-canary")
        pattern = pods_of_replicasets(revs[-1:]) if revs else f"{_literal(self.name)}-canary-[a-z0-9]+-[a-z0-9]{{5}}"
        return _canary({"namespace": self.ns, "pod": f"~{pattern}"}, self.metrics)

    def stable(self) -> Canary:
        """The stable's pods by the shape of a ReplicaSet's pod name, `NAME-HASH-XXXXX` (the pattern
        the Metrics screen strips to name a workload), so pods a rollout of the stable replaces
        count too; a canary's pods (`NAME-canary-HASH-XXXXX`) have one part more and never match."""
        pattern = f"{_literal(self.name)}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}"
        return _canary({"namespace": self.ns, "pod": f"~{pattern}"}, self.metrics)

    def _replicasets(self, name: str) -> list[Revision]:
        try:
            revs: list[Revision] = self.hub.call(self.source, CLUSTERS, lambda b: b.history(self.ns, name))
        except NotFound:
            return []
        return revs


def _literal(name: str) -> str:
    """A Kubernetes name inside a PromQL regex: a dot is the only special character names have."""
    return name.replace(".", "[.]")


def pods_of_replicasets(revs: list[Revision]) -> str:
    """A regex for the pods of these ReplicaSets. A pod is named by the API server from its
    ReplicaSet's generateName (`RS-`), cut to 58 characters, plus 5 random ones."""
    names = sorted({_literal(f"{r.replicaset}-"[:58]) for r in revs})
    return f"({'|'.join(names)})[a-z0-9]{{5}}"


def _canary(matchers: Mapping[str, str], m: Mapping[str, Any]) -> Canary:
    return Canary(matchers, str(m.get("rate_window") or "2m"), str(m.get("requests_metric") or "http_requests_total"),
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


@dataclass(frozen=True, slots=True)
class _Parts:
    """What differs between an InferenceService and a Deployment: how the first step is applied,
    what it moves, and how the plan says it."""

    target: rollout.Target
    apply: Callable[[], dict[str, Any]]
    previous: dict[str, Any]
    new: dict[str, Any]
    what: str


def _isvc_parts(ctx: Context, i: InferenceService, mv: ModelVersion, first: int, prom: str) -> _Parts:
    storage = mv.source_uri
    if not storage or storage.startswith(("runs:/", "models:/")):
        raise BadInput(f"rollout start: {mv.name} v{mv.version} has source {storage or '(none)'!r}, which KServe "
                       "cannot load as a storageUri")
    if i.storage_uri == storage:
        raise BadInput(f"rollout start: {i.ref} already serves {storage}")
    src, ns, name = i.source, i.namespace, i.name

    def apply() -> dict[str, Any]:
        after = ctx.hub.call(src, CLUSTERS, lambda b: b.isvc_storage(ns, name, storage, canary=first))
        return {"storageUri": storage, "revision": after.latest_created_revision, "canaryTrafficPercent": first}

    return _Parts(IsvcTarget(ctx.hub, src, ns, name, ctx.hub.source(prom).settings), apply,
                  {"storageUri": i.storage_uri or None, "canaryTrafficPercent": i.canary_percent},
                  {"storageUri": storage, "version": mv.version, "canaryTrafficPercent": first}, storage)


def _deployment_parts(ctx: Context, d: Deployment, mv: ModelVersion, first: int, prom: str) -> _Parts:
    if d.model_env is None:
        raise BadInput(f"rollout start: {d.ref} has no model env var (MODEL_URI, MLFLOW_MODEL_URI, ...) for the "
                       "canary to change")
    if d.model == mv.uri:
        raise BadInput(f"rollout start: {d.ref} already serves {mv.uri}")
    container, key = d.model_env
    target = DeploymentTarget(ctx.hub, d.source, d.namespace, d.name, ctx.hub.source(prom).settings, container, key,
                              mv.uri, d.replicas)

    def apply() -> dict[str, Any]:
        n = target.replicas_for(first)
        ctx.hub.call(d.source, CLUSTERS, lambda b: b.canary_deployment(d.namespace, d.name, container, key, mv.uri,
                                                                       n))
        return {"model": mv.uri, "canary": f"{d.name}-canary", "canary_replicas": n}

    return _Parts(target, apply, {"model": d.model or None, "replicas": d.replicas},
                  {"model": mv.uri, "version": mv.version, "canary": f"{d.name}-canary"}, mv.uri)


def _in_the_way(ctx: Context, ref: str, own: str | None = None) -> None:
    if (op := rollout_in_the_way(all_operations(ctx.audit, ctx.journal), ref, own)) is not None:
        raise Refused(f"rollout start: {in_the_way_text(op)}")


def _start(ctx: Context, args: Mapping[str, Any]) -> Plan:
    reg, model = args["model"]
    cluster, ns, name = args["to"]
    ref = f"{cluster}/{ns}/{name}"
    _in_the_way(ctx, ref)
    spec = rollout.Spec(rollout.parse_steps(args["steps"] or "10,25,50,100"),
                        120.0 if args["interval"] is None else args["interval"],
                        tuple(parse_gate(g) for g in args["gate"]), args["failures"] or 1)
    prom = _prometheus(ctx, args)
    mv = resolve_version(ctx, reg, model, args["alias"], args["version"], "rollout start")
    first = spec.steps[0]
    try:
        d: Deployment = ctx.hub.call(cluster, CLUSTERS, lambda b: b.deployment(ns, name))
        parts = _deployment_parts(ctx, d, mv, first, prom)
    except NotFound:
        try:
            i: InferenceService = ctx.hub.call(cluster, CLUSTERS, lambda b: b.inference_service(ns, name))
        except NotFound:
            raise NotFound(f"{cluster}: no Deployment or InferenceService {ns}/{name}") from None
        parts = _isvc_parts(ctx, i, mv, first, prom)
    promote_alias = args["promote_alias"]
    if promote_alias:  # the alias moves at the end: a read-only registry refuses the whole rollout now
        ctx.hub.require_writable(reg)
    held = ctx.hub.call(reg, REGISTRY, lambda b: b.model(model)).alias(promote_alias) if promote_alias else None

    shape = {"model": f"{reg}/{model}", "version": mv.version, "steps": list(spec.steps),
             "interval_s": spec.interval_s, "gates": [g.text for g in spec.gates], "failures": spec.failure_limit,
             "prometheus": prom, "promote_alias": promote_alias}
    """The rollout's shape, in its intent, applied and outcome lines alike: the panel draws from it."""

    def run() -> Outcome:
        recorder = CURRENT.get()
        _in_the_way(ctx, ref, recorder.id if recorder is not None else None)  # one confirmed meanwhile
        applied = parts.apply() | {"rollout": shape}

        def watch(w: Watch) -> Outcome:
            w.progress(f"{ref}: {first}% to the new version ({parts.what})", {"step": first})
            done = rollout.run(spec, parts.target, _reader(ctx.hub, prom), w)
            story = [f"{ref}: {done.end.value} at {done.step}%: {done.why}", *done.readings]
            new = dict(applied) | {"end": done.end.value, "step": done.step}
            data = {"end": done.end.value, "target": ref, "readings": list(done.readings)}
            if done.end is not rollout.End.PROMOTED:
                error = Cancelled(story[0]) if done.end is rollout.End.ABORTED else CockpitError(story[0])
                result = {rollout.End.ROLLED_BACK: "rolled back", rollout.End.PAUSED: "paused"}.get(done.end)
                return Outcome(data=data, text="\n".join(story), new=new, error=error, result=result)
            if promote_alias:
                ctx.hub.call(reg, REGISTRY, lambda b: b.set_alias(model, promote_alias, mv.version, held,
                                                                   current_user()))
                w.progress(f"{reg}/{model}: {promote_alias} -> v{mv.version} (was "
                           f"{'nothing' if held is None else f'v{held}'})")
                new["alias"] = {promote_alias: mv.version}
            return Outcome(data=data, text="\n".join(story), new=new)

        return Outcome(data={"target": ref} | applied, new=applied, watch=watch,
                       text=f"{ref}: {first}% to the new version ({parts.what}); not followed (--no-wait): op list")

    gates = ", ".join(g.text for g in spec.gates)
    steps = ", ".join(f"{s}%" for s in spec.steps)
    alias = f"; then {promote_alias} -> v{mv.version}" if promote_alias else ""
    summary = (f"roll out {mv.name} v{mv.version} ({parts.what}) to {ref} in steps {steps} every "
               f"{spec.interval_s:g}s while {gates} hold ({spec.failure_limit} failure(s) allowed; no data pauses)"
               f"{alias}")
    previous = parts.previous | ({"alias": {promote_alias: held}} if promote_alias else {})
    return Plan("rollout start", summary, run, mutating=True, source=cluster, target=ref, confirm=question(summary),
                previous=previous, new=parts.new | {"rollout": shape})


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("rollout", "start"), "roll a registry version out to an InferenceService or a "
                        "Deployment in guarded steps: promoted when every gate holds, rolled back when one fails",
                        _start, (
                            MODEL, *SHIPPED,
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
                        mutating=True, capability="isvc", acts_on="to", waits=True, check=_check))
    register_controls(reg)


# -- a running rollout, from anywhere ------------------------------------------------------------
def _restore(ctx: Context, op: Operation) -> str:
    """Abort a rollout whose process is gone: traffic back to the stable, from what its record says
    it changed (a canary Deployment is removed; an InferenceService's canary traffic goes to 0)."""
    cluster, ns, name = (op.target or "//").split("/", 2)
    new = op.new if isinstance(op.new, dict) else {}
    if new.get("canary"):
        with contextlib.suppress(NotFound):
            ctx.hub.call(cluster, CLUSTERS, lambda b: b.delete_deployment(ns, str(new["canary"])))
        return f"{op.target}: canary {new['canary']} removed, all traffic on the stable"
    ctx.hub.call(cluster, CLUSTERS, lambda b: b.isvc_canary(ns, name, 0))
    return f"{op.target}: canaryTrafficPercent 0, all traffic on the previous revision"


def _control(verb: str) -> Any:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        op = find(ctx, args["id"])
        if op.command != "rollout start":
            raise BadInput(f"operation {op.id} is {op.command}, not a rollout")
        # ended where the traffic may still be split (paused on no data, failed half way): an abort
        # restores the stable; the other words need a rollout that still runs
        shown = view(op)
        share = shown.share if shown is not None else None  # None: a record from before facts were kept
        split = op.state in (OpState.PAUSED, OpState.FAILED) and share not in (0, 100)
        if op.state not in (OpState.RUNNING, OpState.UNFINISHED) and not (split and verb == "abort"):
            where = f" with {share}% of traffic on the new version" if share in (0, 100) else ""
            return Plan(f"rollout {verb}", f"{verb} {op.id}", lambda: Outcome(), noop=f"{op.id} already ended: "
                        f"{op.state.value}{where}" + ("; abort sends its traffic back" if split else ""))
        gone = split or alive_op(op) is False

        def run() -> Outcome:
            if ctx.journal is not None and ctx.journal.tell(op.id, verb):
                return Outcome(data={"id": op.id, "told": verb}, text=f"{op.id}: {verb}: told", new={"told": verb})
            if gone:
                if verb != "abort":
                    raise BadInput(f"operation {op.id}: its process ({op.pid} on {op.host}) is gone; only abort "
                                   "applies (it restores the stable)")
                if split:  # it ended already: restore; an operation of its own, and a step of the rollout's
                    text = _restore(ctx, op)      # story, so its panel and status show the traffic back
                    OpRecorder(ctx.audit, None, op.id, origin=ctx.origin, source=op.source, command=op.command,
                               target=op.target, previous=op.previous, planned=op.new).progress(
                        f"aborted by {current_user()} after it ended {op.state.value}: {text}", rollout.BACK)
                    return Outcome(data={"id": op.id, "restored": text}, text=text, new={"aborted": True})
                text = _restore(ctx, op)
                OpRecorder(ctx.audit, None, op.id, origin=ctx.origin, source=op.source, command=op.command,
                           target=op.target, previous=op.previous, planned=op.new).outcome(
                    op.new, "cancelled", 0.0, f"aborted by {current_user()} after its process ended: {text}")
                return Outcome(data={"id": op.id, "restored": text}, text=text, new={"aborted": True})
            if alive_op(op) is None:
                where = f"on {op.host}" if op.host else "elsewhere"
                send(ctx.audit, op, verb, ctx.origin)
                return Outcome(data={"id": op.id, "sent": verb}, new={"sent": verb},
                               text=f"{op.id}: {verb} written to the audit log for its process {where}; whether "
                                    "that process still runs cannot be told from here (op wait to follow)")
            send(ctx.audit, op, verb, ctx.origin)
            return Outcome(data={"id": op.id, "sent": verb}, new={"sent": verb},
                           text=f"{op.id}: {verb} sent to the process running it ({op.pid} on {op.host}); it acts "
                                "on it within a second (op wait to follow)")

        how = (f"tell it to {verb}" if not (gone and verb == "abort") else
               f"restore the stable now (it ended {op.state.value} with the traffic split)" if split else
               "restore the stable now (its process is gone)")
        summary = f"{verb} rollout {op.id} ({op.target}): {how}"
        return Plan(f"rollout {verb}", summary, run, mutating=True, source=op.source, target=op.target,
                    confirm=question(summary), previous={"rollout": op.state.value}, new={verb: True})

    return planner


def _status(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        op = find(ctx, args["id"])
        steps = [f"  {at.astimezone():%H:%M:%S}  {m}" for at, m in op.steps] or ["  none yet"]
        shown = view(op)
        lines = [f"{op.id}: {op.command} {op.target}: {op.state.value}", *(summary(shown) if shown else []), *steps]
        if op.state in (OpState.RUNNING, OpState.UNFINISHED):
            lines.append(read_back(ctx.hub, op))
        return Outcome(data=op_dict(op), text="\n".join(lines))

    return Plan("rollout status", f"status of rollout {args['id']}", run)


def register_controls(reg: Registry) -> None:
    reg.add(CommandSpec(("rollout", "status"), "a rollout's steps, readings and where its target stands now",
                        _status, (OP_ID,)))
    for verb, what in (("abort", "traffic back to the stable now (restored here if its process is gone)"),
                       ("pause", "hold at the current step until resume"), ("resume", "go on from a pause"),
                       ("promote", "skip the remaining steps and gates: promote now")):
        reg.add(CommandSpec(("rollout", verb), f"{what}: told to the process running it, through the audit log "
                            "when that is another one", _control(verb), (OP_ID,), mutating=True))
