"""The rollout panel: one guarded rollout as it runs (or as it ended): its steps done and to come,
each gate's readings over time as a sparkline against its threshold, the canary's and the stable's
p95, error rate and RPS side by side at the last reading, what the workload costs now, and its story.

Opened from the Operations view (Enter on a rollout) and when a rollout is started from the
command line. Everything on it comes from the operation's record (cockpit.ops.rollout_view), so a
rollout a script runs on the bastion shows the same here; the keys send a person's word the way
`rollout promote|pause|resume|abort ID` does, confirmed first. Layout: screens/rollout_draw.py.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.allocation import allocate
from cockpit.ops.journal import Operation, OpState, operations
from cockpit.ops.rollout_view import RolloutView, view
from cockpit.prices import current
from screens import rollout_draw as draw
from screens.base import CockpitScreen
from screens.safe import safe

WORDS_FOR = (OpState.RUNNING, OpState.UNFINISHED)
"""States a word can reach: running here or elsewhere, or begun by a process this host cannot see
(another host's: the word goes through the audit log, as `rollout pause ID` sends it)."""


class RolloutScreen(CockpitScreen):
    VIEW = "operations"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "word('promote')", "Promote now", id="rollout.promote"),
        Binding("s", "pause_resume", "Pause/resume", id="rollout.pause"),
        Binding("a", "word('abort')", "Abort", id="rollout.abort"),
        Binding("j,down", "scroll_story(1)", "Down", show=False, id="rollout.down"),
        Binding("k,up", "scroll_story(-1)", "Up", show=False, id="rollout.up"),
        Binding("G,end", "scroll_story(100000)", "Newest", show=False, id="rollout.end"),
    ]

    def __init__(self, op_id: str) -> None:
        super().__init__(id="rollout-panel")
        self.op_id = op_id
        self._view: RolloutView | None = None
        self._logged: Operation | None = None
        self._log_key: tuple[int, int] | None = None
        self._read = False
        self._costs: dict[str, float] = {}
        self._story = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="rollout-head")
        yield Static("", id="rollout-steps")
        yield Static("", id="rollout-gates")
        yield Static("", id="rollout-sides")
        with VerticalScroll(id="rollout-story"):
            yield Static("", id="rollout-story-text")

    def on_mount(self) -> None:
        self.focus_main()
        self.inventory_changed()
        self.operations_changed()
        self._read_log()
        self.set_interval(1.0, self._tick)

    def focus_main(self) -> None:
        self.query_one("#rollout-story", VerticalScroll).focus()

    def back(self) -> bool:
        """Esc leaves the panel for the view it was opened over (the rollout goes on)."""
        self.dismiss()
        return True

    # -- where the record comes from ---------------------------------------------------------------
    def operations_changed(self) -> None:
        """This process's journal first (a rollout run here, live); else what the audit log said."""
        journal = self.cockpit.ctx.journal
        op = (journal.get(self.op_id) if journal is not None else None) or self._logged
        self._view = view(op) if op is not None else None
        self._draw()

    def audit_changed(self) -> None:
        self._read_log()

    def _read_log(self) -> None:
        """Read the audit log in a worker, and only when it changed: a log of months is large, and a
        rollout another process runs moves only there."""
        try:
            st = self.cockpit.audit.path.stat()
            key: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if self._read and key == self._log_key:
            return
        self._log_key = key
        self.run_worker(self._load, thread=True, exclusive=True, group="rollout-log", exit_on_error=False)

    def _load(self) -> None:
        lines, _bad = self.cockpit.audit.lines()
        op = next((o for o in operations(lines) if o.id == self.op_id), None)
        self.app.call_from_thread(self._loaded, op)

    def _loaded(self, op: Operation | None) -> None:
        self._logged, self._read = op, True
        self.operations_changed()

    def _tick(self) -> None:
        """The elapsed time and the next reading's countdown move every second; a rollout another
        process runs (or may run) is read again when the log grew."""
        v = self._view
        if v is None or v.op.state in WORDS_FOR:
            if v is None or not v.op.here:
                self._read_log()
            self._draw()

    def inventory_changed(self) -> None:
        """Each workload's $/h from the clusters' last read (the Costs screen's split)."""
        inv = self.cockpit.inventory
        self._costs = allocate(inv.clusters.values(), current(), self.cockpit.hub.config.onprem).workload_hourly()
        self._draw()

    # -- drawing ---------------------------------------------------------------------------------
    def _draw(self) -> None:
        if not self.query("#rollout-head"):  # told of a change while composing or leaving
            return
        v = self._view
        if v is None:
            where = "" if self._read else " (reading the audit log...)"
            self.query_one("#rollout-head", Static).update(safe(
                f"operation {self.op_id}: not in this process's journal or the audit log {self.cockpit.audit.path}, "
                f"or not a rollout{where}"))
            return
        now = self.cockpit.hub.now()
        self.query_one("#rollout-head", Static).update(safe(draw.head(v, now)))
        self.query_one("#rollout-steps", Static).update(safe(draw.steps(v)))
        self.query_one("#rollout-gates", Static).update(safe(draw.gates(v, self.size.width or 80)))
        cluster = (v.op.target or "").split("/")[0]
        hub = self.cockpit.hub  # the cluster's last good read, on the hub's clock (as the status bar says it)
        as_of = hub.health(cluster).as_of if cluster in {c.name for c in hub.sources("clusters")} else None
        cost = draw.cost(v, self._costs, as_of)
        self.query_one("#rollout-sides", Static).update(safe(draw.sides(v, cost)))
        text = draw.story(v)
        if text != self._story:  # a new step: show it, unless the person scrolled back to read
            pane = self.query_one("#rollout-story", VerticalScroll)
            following = pane.scroll_y >= pane.max_scroll_y
            self._story = text
            self.query_one("#rollout-story-text", Static).update(safe(text))
            if following:
                self.call_after_refresh(pane.scroll_end, animate=False)

    def action_scroll_story(self, lines: int) -> None:
        self.query_one("#rollout-story", VerticalScroll).scroll_relative(y=lines, animate=False)

    # -- a person's word -------------------------------------------------------------------------
    def action_word(self, verb: str) -> None:
        v = self._view
        if v is None:
            return
        state = v.op.state.value
        if verb == "abort":
            if not v.holds:
                self.notify(f"rollout {v.op.id[:8]} has ended ({state}): its traffic is not split", severity="warning")
                return
        elif v.op.state not in WORDS_FOR:
            self.notify(f"rollout {v.op.id[:8]} has ended ({state}): nothing to {verb}", severity="warning")
            return
        self.cockpit.dispatch([f"rollout {verb} {v.op.id}"])

    def action_pause_resume(self) -> None:
        self.action_word("resume" if self._view is not None and self._view.paused else "pause")
