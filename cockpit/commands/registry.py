"""The one command registry: parse -> plan -> (confirm) -> execute -> audit.

The script runner and every screen go through here, so a rule enforced here (read-only,
confirmation, audit) holds everywhere. A command is a `CommandSpec`; its planner looks at the
current state (that is where the audit's previous value comes from) and returns a `Plan` whose
`run` performs the change.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cockpit.audit import REFUSED, AuditLog, AuditUnwritable, make_entry, new_operation_id
from cockpit.commands import grammar
from cockpit.contracts import BadInput, Cancelled, CockpitError, Refused
from cockpit.hub import Hub
from cockpit.ops.busy import all_operations, in_the_way_text, rollout_in_the_way
from cockpit.ops.journal import Journal, Watch
from cockpit.ops.record import CURRENT, OpRecorder
from cockpit.providers import provider


@dataclass(frozen=True, slots=True)
class Param:
    """A positional (`name` without dashes) or an option (`--name`)."""

    name: str
    help: str
    kind: str = "str"  # str | int | count | size_mib | size_gib | pci | target | node | workload | source
    #                    | flag | tag | choice | duration | percent
    required: bool = False
    repeat: bool = False
    choices: tuple[str, ...] = ()
    metavar: str = ""
    default: str = ""
    """What an option means when it is not given, as help prints it (`all sources`, `5m`); empty
    when the help text already says, or the option is a filter or a flag (cockpit.cli_help infers)."""

    @property
    def is_option(self) -> bool:
        return self.name.startswith("--")

    @property
    def key(self) -> str:
        return self.name.lstrip("-").replace("-", "_")


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command produced: `data` for JSON, `table` or `text` for people, `new` for audit."""

    data: Any = None
    text: str | None = None
    table: Table | None = None
    new: Any = None
    error: CockpitError | None = None
    result: str | None = None
    """The word the audit log's outcome line says when it is not plain ok/failed: `rolled back`,
    `paused` (the exit code still follows `error`)."""
    watch: Callable[[Watch], Outcome] | None = field(default=None, compare=False, repr=False)
    """What follows the change once it is applied (a rollout to done, failed or timed out): run
    unless the caller does not wait; it returns the final outcome."""


@dataclass(frozen=True, slots=True)
class Plan:
    command: str
    summary: str
    run: Callable[[], Outcome] = field(compare=False, repr=False)
    mutating: bool = False
    source: str | None = None
    target: str | None = None
    confirm: str | None = None
    typed_name: str | None = None
    previous: Any = None
    new: Any = None
    warnings: tuple[str, ...] = ()
    noop: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    hub: Hub
    audit: AuditLog
    origin: str = "script"
    progress: Callable[[str], None] | None = field(default=None, compare=False)
    """Where a long operation (a rollout, a drain) says how far it got; the UI shows it."""
    journal: Journal | None = field(default=None, compare=False)
    """This process's operations as they run (the UI's Operations view lists and cancels them)."""


Planner = Callable[[Context, Mapping[str, Any]], Plan]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    words: tuple[str, ...]
    summary: str
    planner: Planner = field(compare=False, repr=False)
    params: tuple[Param, ...] = ()
    mutating: bool = False
    check: Callable[[Mapping[str, Any], Hub], None] | None = field(default=None, compare=False, repr=False)
    """More of parsing: what the arguments need of each other, from the config alone (no backend
    call), so a script's bad line is refused before any line runs."""
    capability: str | None = None
    """What the target's source must be able to do (its kind's provider descriptor says), checked
    as the line is parsed: a kind that cannot is refused before anything is asked of it."""
    waits: bool = False
    """Its watch is the change itself (a guarded rollout): --no-wait is refused."""
    acts_on: str | None = None
    """The parameter naming the target whose source needs the capability (default: the first
    positional SOURCE/... parameter; `rollout start` acts on --to, not on its model)."""
    serves: bool = False
    """It changes what a workload serves or where its traffic goes: refused while a guarded
    rollout holds that workload (cockpit.ops.busy)."""
    examples: tuple[str, ...] = ()
    """Command lines (without the leading `cockpit`) that `help`, `--help` and docs/commands.md
    show; filled from cockpit.commands.examples, and a test parses each against the demo."""

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def usage(self) -> str:
        parts = [self.name]
        for p in self.params:
            meta = p.metavar or p.key.upper()
            if p.is_option:
                text = p.name if p.kind == "flag" else f"{p.name} {meta}"
                text += " ..." if p.repeat else ""
                parts.append(text if p.required else f"[{text}]")
            else:
                parts.append(meta if p.required else f"[{meta}]")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Invocation:
    spec: CommandSpec
    args: Mapping[str, Any]
    line: str
    dry_run: bool = False
    yes: bool = False
    no_wait: bool = False
    """Return once the change is applied: its watch (a rollout followed to the end) is not run;
    `op list` and `deploy status` follow it later."""


@dataclass(frozen=True, slots=True)
class Result:
    command: str
    line: str
    status: str  # ok | failed | refused | invalid | planned
    exit_code: int
    outcome: Outcome = Outcome()
    plan: Plan | None = None
    error: str | None = None
    duration_s: float = 0.0


GLOBAL_FLAGS = {"--dry-run": "dry_run", "--yes": "yes", "-y": "yes", "--wait": "wait", "--no-wait": "no_wait"}
"""Flags every line takes, wherever they are on it."""


class Registry:
    def __init__(self) -> None:
        self._specs: dict[tuple[str, ...], CommandSpec] = {}

    def add(self, spec: CommandSpec) -> None:
        self._specs[spec.words] = spec

    def specs(self) -> list[CommandSpec]:
        return sorted(self._specs.values(), key=lambda s: s.words)

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(tuple(name.split()))

    # -- parse -------------------------------------------------------------------------------
    def parse(self, line: str, hub: Hub) -> Invocation:
        tokens = grammar.tokenize(line)
        if not tokens:
            raise BadInput("empty command")
        spec, rest = self._match(tokens)
        flags = dict.fromkeys(GLOBAL_FLAGS.values(), False)
        args: dict[str, Any] = {p.key: ([] if p.repeat else (False if p.kind == "flag" else None))
                                for p in spec.params}
        options = {p.name: p for p in spec.params if p.is_option}
        positionals = [p for p in spec.params if not p.is_option]
        i = 0
        while i < len(rest):
            tok = rest[i]
            i += 1
            if tok in GLOBAL_FLAGS:
                flags[GLOBAL_FLAGS[tok]] = True
                continue
            if tok.startswith("--"):
                name, eq, inline = tok.partition("=")
                p = options.get(name)
                if p is None:
                    raise BadInput(f"{spec.name}: unknown option {name}{_suggest(name, list(options))} "
                                   f"(usage: {spec.usage()})")
                if p.kind == "flag":
                    if eq:
                        raise BadInput(f"{spec.name}: {name} takes no value")
                    args[p.key] = True
                    continue
                if eq:
                    raw = inline
                elif i < len(rest):
                    raw, i = rest[i], i + 1
                else:
                    raise BadInput(f"{spec.name}: {name} needs a value")
                value = self._convert(p, raw, hub)
                if p.repeat:
                    args[p.key].append(value)
                elif args[p.key] is not None:
                    raise BadInput(f"{spec.name}: {name} given twice")
                else:
                    args[p.key] = value
                continue
            if not positionals:
                raise BadInput(f"{spec.name}: unexpected argument {tok!r} (usage: {spec.usage()})")
            p = positionals[0]
            if p.repeat:
                args[p.key].append(self._convert(p, tok, hub))
                continue
            positionals.pop(0)
            args[p.key] = self._convert(p, tok, hub)
        for p in spec.params:
            if p.required and (args[p.key] is None or args[p.key] == []):
                what = p.name if p.is_option else (p.metavar or p.key.upper())
                raise BadInput(f"{spec.name}: missing {what} (usage: {spec.usage()})")
        if spec.capability is not None:
            _require(spec, args, hub)
        if spec.check is not None:
            spec.check(args, hub)
        if flags["wait"] and flags["no_wait"]:
            raise BadInput(f"{spec.name}: --wait and --no-wait together")
        if flags["no_wait"] and spec.waits:
            raise BadInput(f"{spec.name}: --no-wait would leave it at its first step: its watch is the change "
                           "(follow it from elsewhere with op list or rollout status)")
        return Invocation(spec, args, line.strip(), dry_run=flags["dry_run"], yes=flags["yes"],
                          no_wait=flags["no_wait"])

    def _match(self, tokens: list[str]) -> tuple[CommandSpec, list[str]]:
        for n in range(min(3, len(tokens)), 0, -1):
            spec = self._specs.get(tuple(tokens[:n]))
            if spec is not None:
                return spec, tokens[n:]
        words = [t for t in tokens[:2] if not t.startswith("-")]
        said = " ".join(words)
        names = [s.name for s in self._specs.values()]
        groups = sorted({s.words[0] for s in self._specs.values() if len(s.words) > 1})
        if words and words[0] in groups:
            subs = ", ".join(s.words[1] for s in self.specs() if s.words[0] == words[0])
            raise BadInput(f"unknown command {said!r}{_suggest(said, names)} ({words[0]} takes: {subs})")
        raise BadInput(f"unknown command {said!r}{_suggest(said, names)} (try 'help')")

    def _convert(self, p: Param, raw: str, hub: Hub) -> Any:
        what = p.name if p.is_option else (p.metavar or p.key.upper())
        match p.kind:
            case "int":
                return grammar.parse_positive_int(raw, what)
            case "size_mib":
                return grammar.parse_size_mib(raw, what)
            case "size_gib":
                return grammar.parse_size_gib(raw, what)
            case "pci":
                return grammar.parse_pci(raw)
            case "price":
                return grammar.parse_price(raw, what)
            case "accelerator":
                return grammar.parse_accelerator(raw)
            case "tag":
                return grammar.parse_tag(raw)
            case "target":
                return grammar.split_target(raw, [s.name for s in hub.sources("machines")])
            case "source":
                hub.source(raw)
                return raw
            case "node":
                return grammar.split_node(raw, [s.name for s in hub.sources("clusters")])
            case "workload":
                return grammar.split_workload(raw, [s.name for s in hub.sources("clusters")])
            case "model":
                return grammar.split_model(raw, [s.name for s in hub.sources("registry")])
            case "version":
                return grammar.parse_positive_int(raw.lstrip("v"), what)
            case "count":
                return 0 if raw.strip() == "0" else grammar.parse_positive_int(raw, what, 10_000)
            case "duration":
                return grammar.parse_duration(raw, what)
            case "percent":
                return grammar.parse_percent(raw, what)
            case "choice":
                if raw not in p.choices:
                    raise BadInput(f"{what}: {raw!r} is not one of {', '.join(p.choices)}")
                return raw
        return raw

    # -- plan and execute --------------------------------------------------------------------
    def plan(self, inv: Invocation, ctx: Context) -> Plan:
        plan = inv.spec.planner(ctx, inv.args)
        if plan.mutating and plan.source is not None and not plan.noop:
            try:
                ctx.hub.require_writable(plan.source)
                if inv.spec.serves and plan.target and (
                        held := rollout_in_the_way(all_operations(ctx.audit, ctx.journal), plan.target)):
                    raise Refused(f"{plan.command}: {in_the_way_text(held)}")
            except Refused as e:
                self._refused(ctx, plan, e.message)
                raise
        return plan

    def execute(self, plan: Plan, ctx: Context, *, wait: bool = True) -> Result:
        """Run a plan the caller has already confirmed, as an operation (cockpit.ops): its intent
        is written to the audit log before it runs (no record, no change); once applied, that is
        recorded, then its watch (a rollout followed to the end) runs unless `wait` is False, each
        step recorded; its outcome is written last, ok or not, under the same id."""
        started = time.monotonic()
        audited = plan.mutating and not plan.noop
        op = OpRecorder(ctx.audit, ctx.journal if audited else None, new_operation_id(), origin=ctx.origin,
                        source=plan.source, command=plan.command, target=plan.target, previous=plan.previous,
                        planned=plan.new, echo=ctx.progress)
        if audited:
            try:
                op.intent()
            except AuditUnwritable as e:
                msg = f"refused: {e.message}; nothing was changed"
                return Result(plan.command, plan.summary, "failed", e.exit_code, plan=plan, error=msg)
        try:
            outcome = _apply_and_watch(plan, op if audited else None, wait, started)
        except CockpitError as e:
            took = time.monotonic() - started
            status = "refused" if isinstance(e, Refused) else "cancelled" if isinstance(e, Cancelled) else "failed"
            error = e.message
            if audited:
                error = self._unrecorded(plan, op.outcome(None, status, took, e.message), status, e.message) or error
            return Result(plan.command, plan.summary, status, e.exit_code, plan=plan, error=error,
                          duration_s=took)
        except Exception as e:  # a bug: the change may be half made; said in one line, and recorded
            log.exception("%s failed unexpectedly", plan.command)
            took = time.monotonic() - started
            error = f"{plan.summary}: unexpected {type(e).__name__}: {e} (see cockpit.log)"
            if audited:
                error = self._unrecorded(plan, op.outcome(None, "failed", took, error), "failed", error) or error
            return Result(plan.command, plan.summary, "failed", 1, plan=plan, error=error, duration_s=took)
        took = time.monotonic() - started
        failed = outcome.error
        status = "ok" if not failed else "cancelled" if isinstance(failed, Cancelled) else "failed"
        unrecorded = None
        if audited:
            unrecorded = self._unrecorded(plan, op.outcome(outcome.new, outcome.result or status, took,
                                                           failed.message if failed else None),
                                          status, failed.message if failed else None)
        if failed:
            return Result(plan.command, plan.summary, status, failed.exit_code, outcome, plan,
                          unrecorded or failed.message, took)
        if unrecorded:
            return Result(plan.command, plan.summary, "failed", AuditUnwritable.exit_code, outcome, plan,
                          unrecorded, took)
        return Result(plan.command, plan.summary, "ok", 0, outcome, plan, None, took)

    def run_line(self, line: str, ctx: Context, *, yes: bool = False, dry_run: bool = False,
                 confirm: Callable[[Plan], bool] | None = None) -> Result:
        """Parse, plan and execute one line: the script mode's whole cycle."""
        try:
            inv = self.parse(line, ctx.hub)
        except CockpitError as e:
            return Result("", line, "invalid", e.exit_code, error=e.message)
        return self.run_invocation(inv, ctx, yes=yes, dry_run=dry_run, confirm=confirm)

    def run_invocation(self, inv: Invocation, ctx: Context, *, yes: bool = False, dry_run: bool = False,
                       confirm: Callable[[Plan], bool] | None = None) -> Result:
        name = inv.spec.name
        try:
            plan = self.plan(inv, ctx)
        except CockpitError as e:
            status = "refused" if isinstance(e, Refused) else ("invalid" if isinstance(e, BadInput) else "failed")
            return Result(name, inv.line, status, e.exit_code, error=e.message)
        if plan.noop:
            return Result(name, inv.line, "ok", 0, Outcome(data={"unchanged": plan.noop}, text=plan.noop), plan)
        if plan.mutating and (dry_run or inv.dry_run):
            return Result(name, inv.line, "planned", 0, Outcome(data=plan_dict(plan), text=plan_text(plan)), plan)
        if plan.mutating and not (yes or inv.yes or (confirm is not None and confirm(plan))):
            msg = (f"refused: '{name}' changes {plan.target or plan.source}; "
                   "add --yes to run it or --dry-run to see the plan")
            self._refused(ctx, plan, msg)
            return Result(name, inv.line, "refused", Refused.exit_code, plan=plan, error=msg)
        result = self.execute(plan, ctx, wait=not inv.no_wait)
        return Result(name, inv.line, result.status, result.exit_code, result.outcome, plan, result.error,
                      result.duration_s)

    @staticmethod
    def _unrecorded(plan: Plan, problem: AuditUnwritable | None, result: str, error: str | None) -> str | None:
        """What to say when a change's outcome could not be written to the audit log."""
        if problem is None:
            return None
        said = "it was made" if result == "ok" else f"it {result}" if result == "cancelled" else "it failed"
        return f"{plan.summary}: {said}, but its outcome is not in the audit log ({problem.message})" + (
            f"; the change failed: {error}" if error and result == "failed" else "")

    def _refused(self, ctx: Context, plan: Plan, reason: str) -> None:
        """A refused change leaves a trace too (unless the config turns that off); a log that cannot
        take the line does not turn a refusal into something else."""
        if not ctx.audit.record_refusals:
            return
        with contextlib.suppress(AuditUnwritable):
            ctx.audit.append(make_entry(origin=ctx.origin, source=plan.source, command=plan.command,
                                        target=plan.target, previous=plan.previous, new=plan.new, result="refused",
                                        duration_s=0.0, error=reason, op_id=new_operation_id(), phase=REFUSED))


def _apply_and_watch(plan: Plan, op: OpRecorder | None, wait: bool, started: float) -> Outcome:
    """The change (recorded as applied once made), then its watch unless the caller does not
    wait; steps reported meanwhile (`cockpit.ops.record.report`) land in this operation."""
    token = CURRENT.set(op)
    try:
        outcome = plan.run()
        if op is not None:
            op.applied(outcome.new, time.monotonic() - started)
        if outcome.watch is not None and wait:
            watcher: Watch = op if op is not None else _Unwatched()
            outcome = outcome.watch(watcher)
        return outcome
    finally:
        CURRENT.reset(token)


class _Unwatched:
    """The watch of a change that is not audited (a no-op plan has none, so this is for safety)."""

    def progress(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def commands(self) -> list[str]:
        return []


def question(summary: str, tail: str = "") -> str:
    """A plan's summary as the confirmation question: `scale x from 2 to 4` -> `Scale x from 2 to 4?`."""
    return summary[:1].upper() + summary[1:] + tail + "?"


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {"plan": plan.summary, "target": plan.target, "source": plan.source, "previous": plan.previous,
            "new": plan.new, "warnings": list(plan.warnings)}


def plan_text(plan: Plan) -> str:
    lines = [f"would {plan.summary}"]
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


TARGET_KINDS = frozenset({"target", "node", "workload", "model"})
"""Parameter kinds whose value is (SOURCE, ...): the source a command acts on."""


def _require(spec: CommandSpec, args: Mapping[str, Any], hub: Hub) -> None:
    """Refuse a command whose target's source cannot do it, in one line naming the source and why."""
    for p in spec.params:
        value = args.get(p.key)
        if spec.acts_on is not None and p.key != spec.acts_on:
            continue
        if p.kind in TARGET_KINDS and (not p.is_option or spec.acts_on) and isinstance(value, tuple) and value:
            source = str(value[0])
            kind = provider(hub.source(source).kind)
            if kind is None or not kind.can(str(spec.capability)):
                why = kind.cannot(str(spec.capability)) if kind else f"unknown kind {hub.source(source).kind!r}"
                raise BadInput(f"{source}: {why}")
            return
