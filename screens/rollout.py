"""The rollout panel: one guarded rollout as it runs (or as it ended): its steps done and to come,
each gate's readings over time as a sparkline against its threshold, the canary's and the stable's
p95, error rate and RPS side by side at the last reading, what the workload costs now, and its story.

Opened from the Operations view (Enter on a rollout) and when a rollout is started from the
command line. Everything on it comes from the operation's record (cockpit.ops.rollout_view), so a
rollout a script runs on the bastion shows the same here; the keys send a person's word the way
`rollout promote|pause|resume|abort ID` does, confirmed first.
"""

from __future__ import annotations

import math
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.allocation import allocate
from cockpit.ops.journal import Operation, OpState, operations
from cockpit.ops.rollout_view import GateSeries, RolloutView, chart_bounds, figure, gate_value, limit_text, view
from cockpit.prices import current
from cockpit.sparkline import BARS, resample
from screens.base import CockpitScreen
from screens.safe import safe

MARK = {"done": ("✓", "$success"), "now": ("▶", "$warning"), "paused": ("‖", "$warning"),
        "stopped": ("✗", "$error"), "next": ("·", "$text-muted")}
END = {OpState.OK: ("promoted", "$success"), OpState.ROLLED_BACK: ("rolled back", "$error"),
       OpState.PAUSED: ("paused: traffic still split (a abort sends it back)", "$warning"),
       OpState.CANCELLED: ("aborted: traffic back on the stable", "$warning"),
       OpState.FAILED: ("failed", "$error"), OpState.UNFINISHED: ("unfinished: its process ended (a abort restores)",
                                                                  "$error")}
SIDES = (("p95", "p95"), ("error_rate", "errors"), ("rps", "rps"))


def spark(g: GateSeries, width: int) -> Content:
    """The gate's readings, newest at the right, scaled from 0 to the larger of the readings and the
    threshold; a reading that failed is red, one that held green, no data a grey gap mark."""
    values = g.values()
    lo, hi = chart_bounds(g, values)
    cols = resample(values, width)
    passed = resample_passed(g, len(cols))
    parts: list[tuple[str, str]] = []
    for v, ok in zip(cols, passed, strict=True):
        if math.isnan(v):
            parts.append(("·", "$text-muted"))
            continue
        bar = BARS[min(len(BARS) - 1, max(0, int((v - lo) / (hi - lo or 1.0) * (len(BARS) - 1) + 0.5)))]
        parts.append((bar, "$success" if ok else "$error"))
    return Content.assemble(*parts) if parts else Content.styled("no reading yet", "$text-muted")


def resample_passed(g: GateSeries, width: int) -> list[bool]:
    """Whether each drawn column held: a column of several readings fails if any of them failed."""
    n = len(g.points)
    if n <= width:
        return [p.passed is not False for p in g.points]
    return [all(p.passed is not False for p in g.points[i * n // width:max(i * n // width + 1, (i + 1) * n // width)])
            for i in range(width)]


class RolloutScreen(CockpitScreen):
    VIEW = "operations"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "word('promote')", "Promote now", id="rollout.promote"),
        Binding("s", "pause_resume", "Pause/resume", id="rollout.pause"),
        Binding("a", "word('abort')", "Abort", id="rollout.abort"),
    ]

    def __init__(self, op_id: str) -> None:
        super().__init__()
        self.op_id = op_id
        self._view: RolloutView | None = None
        self._hourly: str = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="rollout-head")
        yield Static("", id="rollout-steps")
        yield Static("", id="rollout-gates")
        yield Static("", id="rollout-sides")
        with VerticalScroll(id="rollout-story"):
            yield Static("", id="rollout-story-text")

    def on_mount(self) -> None:
        self.query_one("#rollout-story", VerticalScroll).focus()
        self.inventory_changed()
        self.audit_changed()
        self.set_interval(1.0, self._tick)

    def focus_main(self) -> None:
        self.query_one("#rollout-story", VerticalScroll).focus()

    def back(self) -> bool:
        """Esc leaves the panel for the view it was opened over (the rollout goes on)."""
        self.dismiss()
        return True

    # -- where the record comes from ---------------------------------------------------------------
    def _operation(self) -> Operation | None:
        journal = self.cockpit.ctx.journal
        live = journal.get(self.op_id) if journal is not None else None
        if live is not None:
            return live
        lines, _bad = self.cockpit.audit.lines()
        return next((op for op in operations(lines) if op.id == self.op_id), None)

    def audit_changed(self) -> None:
        op = self._operation()
        self._view = view(op) if op is not None else None
        self._draw()

    def operations_changed(self) -> None:
        self.audit_changed()

    def _tick(self) -> None:
        """A rollout another process runs moves in the audit log only: read it again while it runs;
        the elapsed time and the next reading's countdown move every second either way."""
        v = self._view
        if v is not None and v.running and not v.op.here:
            self.audit_changed()
        elif v is not None and v.running:
            self._draw()

    def inventory_changed(self) -> None:
        """The workload's $/h now: its pods' requests at their nodes' prices (the Costs screen's split)."""
        op = self._view.op if self._view is not None else None
        target = (op.target if op is not None else None) or ""
        cluster, _, rest = target.partition("/")
        ns, _, name = rest.partition("/")
        costs = allocate(self.cockpit.inventory.clusters.values(), current(),
                         self.cockpit.hub.config.onprem).workload_hourly()
        if self._view is not None and self._view.deployment:
            stable = costs.get(f"{cluster}/{ns}/Deployment/{name}")
            canary = costs.get(f"{cluster}/{ns}/Deployment/{name}-canary")
            total = (stable or 0.0) + (canary or 0.0)
            self._hourly = (f"{fmt.dollars(total)}/h now (stable {fmt.dollars(stable) if stable else '-'}, canary "
                            f"{fmt.dollars(canary) if canary else '-'})" if total else "")
        else:
            hourly = costs.get(f"{cluster}/{ns}/InferenceService/{name}")
            self._hourly = f"{fmt.dollars(hourly)}/h now (both revisions' pods)" if hourly else ""
        if self.is_mounted:
            self._draw()

    # -- drawing ---------------------------------------------------------------------------------
    def _draw(self) -> None:
        if not self.query("#rollout-head"):  # told of a change while composing or leaving
            return
        v = self._view
        head = self.query_one("#rollout-head", Static)
        if v is None:
            head.update(safe(f"operation {self.op_id}: not found in this process or the audit log "
                             f"({self.cockpit.audit.path}), or not a rollout"))
            return
        now = self.cockpit.hub.now()
        op = v.op
        what = f"{v.model} v{v.version}" if v.version is not None else v.model
        title = Content.from_markup("[b]rollout $id[/]  $what → $target", id=op.id[:8], what=what,
                                    target=op.target or "-")
        if v.running:
            state = ("paused: no step moves until resume (s)", "$warning") if v.paused else ("running", "$warning")
        else:
            state = END.get(op.state, (op.state.value, "$error"))
        line2 = [state, (f"  {op.elapsed_text(now)}", "")]
        if (wait := v.next_reading_in(now)) is not None:
            line2.append((f" · next reading in {wait:.0f}s", "$text-muted"))
        if v.share is not None:
            line2.append((f" · canary takes {v.share}% of traffic", ""))
        head.update(safe(Content("\n").join([title, Content.assemble(*line2)])))
        self.query_one("#rollout-steps", Static).update(safe(self._steps(v)))
        self.query_one("#rollout-gates", Static).update(safe(self._gates(v)))
        self.query_one("#rollout-sides", Static).update(safe(self._sides(v)))
        story = [f"{at.astimezone():%H:%M:%S}  {m}" for at, m in op.steps] or ["nothing recorded yet"]
        if op.error:
            story.append(f"error: {op.error}")
        self.query_one("#rollout-story-text", Static).update(safe("\n".join(story)))
        self.query_one("#rollout-story", VerticalScroll).scroll_end(animate=False)

    def _steps(self, v: RolloutView) -> Content:
        parts: list[tuple[str, str] | str] = [("steps  ", "$text-muted")]
        for s, mark in v.step_marks():
            sym, style = MARK[mark]
            parts += [(f"{sym}{s}%", style), " "]
        every = f" every {v.interval_s:g}s" if v.interval_s is not None else ""
        alias = f" · then {v.promote_alias} → v{v.version}" if v.promote_alias else ""
        parts.append((f"·{every} · {v.failure_limit} failure(s) allowed{alias}", "$text-muted"))
        return Content.assemble(*parts)

    def _gates(self, v: RolloutView) -> Content:
        if not v.gates:
            return Content.styled("gates: none on record", "$text-muted")
        width = self.size.width or 80
        name_w = min(24, max(4, *(len(g.text) for g in v.gates)))
        room = max(8, min(40, width - name_w - 31))
        head = Content.styled(f"{'GATE':<{name_w}}  {'LAST':>8}  {'LIMIT':<9} {'READINGS':<{room}} FAILS", "bold")
        lines = [head]
        for g in v.gates:
            last = g.last
            value = gate_value(g, last.value if last else None)
            style = "" if last is None else "$text-muted" if last.passed is None else (
                "$success" if last.passed else "$error")
            fails = f"{g.failures}/{v.failure_limit}"
            bars = spark(g, room)
            lines.append(Content.assemble(
                f"{g.text[:name_w]:<{name_w}}  ", (f"{value:>8}", style), f"  {limit_text(g):<9} ",
                bars, " " * max(1, room - bars.cell_length + 1), (fails, "$error" if g.failures else "")))
        return Content("\n").join(lines)

    def _sides(self, v: RolloutView) -> Content:
        when = (f"at the last reading, {v.compared_at.astimezone():%H:%M:%S}" if v.compared_at
                else "none read yet: the first reading ends the first step")
        lines = [Content.assemble((f"{'':<8}{'CANARY':>10}{'STABLE':>10}", "bold"), (f"   {when}", "$text-muted"))]
        for key, label in SIDES:
            c, s = v.canary.get(key), v.stable.get(key)
            worse = c is not None and s is not None and (c > s * 1.2 if key != "rps" else False)
            lines.append(Content.assemble(f"{label:<8}", (f"{figure(key, c):>10}", "$error" if worse else ""),
                                          f"{figure(key, s):>10}"))
        lines.append(Content.assemble(("cost    ", ""), self._hourly or ("- (no priced pods read yet)", "$text-muted")))
        return Content("\n").join(lines)

    # -- a person's word -------------------------------------------------------------------------
    def action_word(self, verb: str) -> None:
        v = self._view
        if v is None:
            return
        if verb != "abort" and not v.running:
            self.notify(f"rollout {v.op.id[:8]} has ended ({v.op.state.value}): nothing to {verb}", severity="warning")
            return
        if verb == "abort" and v.op.state not in (OpState.RUNNING, OpState.PAUSED, OpState.FAILED,
                                                  OpState.UNFINISHED):
            self.notify(f"rollout {v.op.id[:8]} has ended ({v.op.state.value}): traffic is not split",
                        severity="warning")
            return
        self.cockpit.dispatch([f"rollout {verb} {v.op.id}"])

    def action_pause_resume(self) -> None:
        self.action_word("resume" if self._view is not None and self._view.paused else "pause")
