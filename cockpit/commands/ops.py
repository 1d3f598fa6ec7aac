"""`op list`, `op show ID`, `op wait ID`, `op cancel ID`: changes as operations that outlive the line
(or the process) that started them, read back from the audit log.

An operation this process runs is live (its journal); one from another process is what the audit
log says of it: ended, or not ended yet, which is either still running elsewhere or begun by a
process that died first (`unfinished`: its outcome is unknown, and `op show` says what the log
knows: when it was applied and its last step).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import BackendTimeout, BadInput, CockpitError
from cockpit.ops.busy import all_operations
from cockpit.ops.journal import Operation, OpState
from cockpit.ops.readback import read_back
from cockpit.serialize import to_jsonable, utc_iso

OP_ID = Param("id", "the operation's id (or its first 4+ characters)", required=True, metavar="ID")
POLL_S = 0.5
"""How often `op wait` reads the audit log for the outcome of another process's operation."""


def all_ops(ctx: Context) -> list[Operation]:
    """Every operation, oldest first: the audit log's, with this process's live ones over them."""
    return all_operations(ctx.audit, ctx.journal)


def find(ctx: Context, wanted: str) -> Operation:
    if len(wanted) < 4:
        raise BadInput(f"{wanted!r}: give at least 4 characters of the id (see 'op list')")
    hits = [op for op in all_ops(ctx) if op.id.startswith(wanted)]
    if not hits:
        raise BadInput(f"no operation {wanted!r} in {ctx.audit.path} (see 'op list')")
    if len(hits) > 1:
        raise BadInput(f"{wanted!r} names {len(hits)} operations: {', '.join(op.id for op in hits[:5])}")
    return hits[0]


def op_dict(op: Operation) -> dict[str, Any]:
    return {"id": op.id, "command": op.command, "target": op.target, "source": op.source, "origin": op.origin,
            "user": op.user, "state": op.state.value, "started": utc_iso(op.started), "applied": utc_iso(op.applied),
            "ended": utc_iso(op.ended), "error": op.error, "previous": to_jsonable(op.previous),
            "new": to_jsonable(op.new), "steps": [{"at": utc_iso(at), "message": m} for at, m in op.steps],
            "facts": [{"at": utc_iso(at), "data": to_jsonable(f)} for at, f in op.facts], "here": op.here}


def _list(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        ops = all_ops(ctx)
        if not args["all"]:  # what needs eyes: running, unfinished, and the last 20
            ops = [op for i, op in enumerate(ops) if op.state in (OpState.RUNNING, OpState.UNFINISHED)
                   or i >= len(ops) - 20]
        now = ctx.hub.now()
        rows = tuple((op.id, op.state.value, op.command, op.target or "-", op.elapsed_text(now, 1),
                      op.started.astimezone().strftime("%m-%d %H:%M:%S"), op.last()) for op in reversed(ops))
        unfinished = [op for op in ops if op.state is OpState.UNFINISHED]
        text = "\n".join(f"did not finish: {op.describe()}; {read_back(ctx.hub, op)}" for op in unfinished) or None
        return Outcome(data=[op_dict(op) for op in ops], text=text,
                       table=Table(("ID", "STATE", "COMMAND", "TARGET", "ELAPSED", "STARTED", "LAST"), rows))

    return Plan("op list", "list operations", run)


def _show(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        op = find(ctx, args["id"])
        lines = [f"Operation: {op.id} ({'this process' if op.here else op.origin})", f"Command:   {op.command}",
                 f"Target:    {op.target or '-'}", f"State:     {op.state.value}",
                 f"Started:   {op.started.astimezone():%Y-%m-%d %H:%M:%S} by {op.user}",
                 f"Applied:   {op.applied.astimezone():%H:%M:%S}" if op.applied else "Applied:   not known to be",
                 f"Ended:     {op.ended.astimezone():%H:%M:%S}" if op.ended else "Ended:     -"]
        if op.state is OpState.UNFINISHED:
            lines.append(f"Outcome:   unknown: the process that ran it ended first; {read_back(ctx.hub, op)}")
        if op.error:
            lines.append(f"Error:     {op.error}")
        lines.append("Steps:")
        lines += [f"  {at.astimezone():%H:%M:%S}  {m}" for at, m in op.steps] or ["  none recorded"]
        return Outcome(data=op_dict(op), text="\n".join(lines))

    return Plan("op show", f"show operation {args['id']}", run)


def _wait(ctx: Context, args: Mapping[str, Any]) -> Plan:
    timeout = args["timeout"] or 300.0

    def run() -> Outcome:
        started = time.monotonic()
        op = find(ctx, args["id"])
        while op.state in (OpState.RUNNING, OpState.UNFINISHED):
            if time.monotonic() - started >= timeout:
                raise BackendTimeout(f"operation {op.id} ({op.command} {op.target or ''}) not ended after "
                                     f"{timeout:g}s: {op.last()}")
            time.sleep(POLL_S)
            op = find(ctx, op.id)
        error = None if op.state is OpState.OK else CockpitError(f"operation {op.id} {op.state.value}: {op.last()}")
        return Outcome(data=op_dict(op), text=op.describe(), error=error)

    return Plan("op wait", f"wait for operation {args['id']}", run)


def _cancel(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        op = find(ctx, args["id"])
        if op.state not in (OpState.RUNNING, OpState.UNFINISHED):
            return Outcome(data=op_dict(op), text=f"{op.id} already ended: {op.state.value}")
        if ctx.journal is None or not ctx.journal.cancel(op.id):
            raise BadInput(f"operation {op.id} is not run by this cockpit (started {op.started.astimezone():%H:%M:%S} "
                           f"from {op.origin}): cancel it where it runs")
        what = ("traffic goes back to the stable" if op.command == "rollout start"
                else "no longer followed (the change goes on)")
        return Outcome(data=op_dict(op), text=f"{op.id}: cancelled: {what}")

    return Plan("op cancel", f"stop following operation {args['id']}", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("op", "list"), "list running, unfinished and recent operations (changes)", _list,
                        (Param("--all", "every operation in the audit log", kind="flag"),)))
    reg.add(CommandSpec(("op", "show"), "one operation: its target, when it was applied, each step, its outcome",
                        _show, (OP_ID,)))
    reg.add(CommandSpec(("op", "wait"), "wait for an operation to end (exit 1 unless it ended ok)", _wait,
                        (OP_ID, Param("--timeout", "how long to wait (default 5m)", kind="duration",
                                      metavar="DURATION"))))
    reg.add(CommandSpec(("op", "cancel"), "stop following an operation this cockpit runs (the change goes on)",
                        _cancel, (OP_ID,)))
