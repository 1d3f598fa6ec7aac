"""Operations: the changes this cockpit runs and ran (and those an earlier process left
unfinished), with their progress, elapsed time and last message. `c` stops following one (the
change itself goes on); Enter shows its whole story. Reached with `:ops`; the status bar says
when some are running.

The list is this process's journal over the audit log's operations, so a rollout followed from
the Deployments screen can be watched here, and one a crashed session left reads "outcome unknown".
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.ops.journal import Operation, OpState, operations, overlay
from screens.base import TableScreen
from screens.safe import safe
from screens.widgets.command_line import FilterBox
from screens.widgets.dialogs import TextScreen
from screens.widgets.virtual_table import Column, Row, VirtualTable

STATE_STYLE = {OpState.RUNNING.value: "vt--warn", OpState.OK.value: "vt--good", OpState.FAILED.value: "vt--bad",
               OpState.CANCELLED.value: "vt--dim", OpState.UNFINISHED.value: "vt--bad"}

# Planned widths (Column.width): the terminal's width alone decides which show. ID comes first: an
# operation is opened (`op show`) and cancelled by it, so it stays at 80 columns (8 of its 12 characters).
# At 80 LAST gives way (its message starts with the target, which TARGET then shows whole); Enter shows it.
COLUMNS = (
    Column("id", "ID", min_width=8, max_width=8, width=8, priority=0),
    Column("state", "STATE", min_width=7, max_width=10, width=10, priority=0, style=STATE_STYLE.get),
    Column("command", "COMMAND", min_width=7, max_width=15, width=15, priority=0),
    Column("target", "TARGET", min_width=8, max_width=32, width=24, priority=0),
    Column("elapsed", "ELAPSED", min_width=6, max_width=7, width=7, align="right", priority=1),
    Column("last", "LAST", min_width=6, max_width=60, width=12, grow=True, priority=1),
)


class OperationsScreen(TableScreen):
    VIEW = "operations"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="operations.filter"),
        Binding("c", "cancel_op", "Stop following", id="operations.cancel"),
    ]

    def compose_body(self) -> ComposeResult:
        yield FilterBox(placeholder="filter operations (esc clears)", id="filter")
        yield Static("", id="operations-summary")
        yield VirtualTable(COLUMNS, markable=False, id="operations-table")

    def on_mount(self) -> None:
        self.query_one(VirtualTable).focus()
        self._ops: dict[str, Operation] = {}
        self.audit_changed()
        self.set_interval(1.0, self._tick)  # elapsed time of running operations moves

    def on_screen_resume(self) -> None:
        self.audit_changed()

    def audit_changed(self) -> None:
        """Re-read the audit log (other processes' operations, and this one's once ended)."""
        lines, _bad = self.cockpit.audit.lines()
        journal = self.cockpit.ctx.journal
        live = journal.all() if journal is not None else []
        self._from_log = operations(lines, [op.id for op in live if op.state is OpState.RUNNING])
        self.operations_changed()

    def operations_changed(self) -> None:
        journal = self.cockpit.ctx.journal
        ops = overlay(getattr(self, "_from_log", []), journal.all() if journal is not None else [])[::-1]
        self._ops = {op.id: op for op in ops}
        now = self.cockpit.hub.now()
        rows = [Row(op.id, (op.id[:8], op.state.value, op.command, op.target or "-", op.elapsed_text(now), op.last()))
                for op in ops]
        table = self.query_one(VirtualTable)
        table.empty_text = "no operations yet: a change (start, scale, promote...) shows here while it runs"
        table.set_rows(rows)
        running = sum(op.state is OpState.RUNNING for op in ops)
        unfinished = sum(op.state is OpState.UNFINISHED for op in ops)
        note = f"{fmt.plural(len(ops), 'operation')} · {running} running"
        if unfinished:
            note += f" · {unfinished} unfinished (outcome unknown: Enter)"
        self.query_one("#operations-summary", Static).update(safe(note))

    def _tick(self) -> None:
        if any(op.state is OpState.RUNNING for op in self._ops.values()):
            self.operations_changed()

    def action_cancel_op(self) -> None:
        key = self.query_one(VirtualTable).cursor_key
        op = self._ops.get(str(key)) if key is not None else None
        journal = self.cockpit.ctx.journal
        if op is None:
            return
        if op.state is not OpState.RUNNING or journal is None or not journal.cancel(op.id):
            self.notify(f"{op.id} is not running here ({op.state.value})", severity="warning")
            return
        what = ("traffic goes back to the stable" if op.command == "rollout start"
                else "no longer followed (the change goes on)")
        self.notify(f"{op.command} {op.target or ''}: {what}", timeout=4)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        op = self._ops.get(str(event.key))
        if op is None:
            return
        if op.command == "rollout start":  # its panel: steps, gates over time, canary beside stable
            self.cockpit.open_rollout(op.id)
            return
        steps = "\n".join(f"  {at.astimezone():%H:%M:%S}  {m}" for at, m in op.steps) or "  none recorded"
        body = (f"{op.describe()}\nstarted {op.started.astimezone():%Y-%m-%d %H:%M:%S} by {op.user} "
                f"({op.origin})\nsteps:\n{steps}" + (f"\nerror: {op.error}" if op.error else ""))
        self.app.push_screen(TextScreen(f"operation {op.id}", body))
