"""What stands in the way of a change to a workload: a guarded rollout of it that has not let go.

One rollout per target at a time (Argo Rollouts' rule), and while one holds a target no other
change to what that target serves or where its traffic goes (a second rollout, `model deploy`,
`isvc canary`, `deploy set-image` or `rollback`): it would move the canary's traffic under the
rollout's gates, or the gates would judge a version they were not told of. Scaling stays allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from cockpit.audit import AuditLog
from cockpit.ops.journal import Journal, Operation, OpState, operations, overlay
from cockpit.ops.rollout_view import ROLLOUT, view


def all_operations(audit: AuditLog, journal: Journal | None) -> list[Operation]:
    """Every operation, oldest first: the audit log's, with this process's live ones over them."""
    live = journal.all() if journal is not None else []
    lines, _bad = audit.lines()
    return overlay(operations(lines, [op.id for op in live if op.state is OpState.RUNNING]), live)


def rollout_in_the_way(ops: Iterable[Operation], ref: str, own: str | None = None) -> Operation | None:
    """The rollout holding `ref`: one running (here or elsewhere), one whose outcome is unknown, or
    one that ended with the traffic still split (paused on no data, failed half way). With `own`
    (a rollout's own id), only one begun before it: of two begun at once, the later gives way."""
    ops = list(ops)
    mine = next((op for op in ops if op.id == own), None)
    for op in ops:
        if op.command != ROLLOUT or op.target != ref or op.id == own:
            continue
        if mine is not None and (op.started, op.id) > (mine.started, mine.id):
            continue
        shown = view(op)
        if shown is not None and shown.holds:
            return op
    return None


def in_the_way_text(op: Operation) -> str:
    how = "it runs" if op.state is OpState.RUNNING else f"{op.state.value}, traffic may still be split"
    return f"{op.target} has a rollout in the way: {op.id} ({how}); wait for it, or rollout abort {op.id}"
