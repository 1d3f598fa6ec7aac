"""How the rollout panel lays out a rollout's record (cockpit.ops.rollout_view.RolloutView): pure
functions of the view, the clock and the width, so the screen only decides when to draw.

Every line is plain-text Content (styles from theme variables, never markup built from strings)
and passes through `safe()` in the screen: gate texts and messages come from an audit log anyone
on the bastion may have written to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from textual.content import Content

from cockpit import format as fmt
from cockpit.ops.gates import SIDE_BY_SIDE, figure
from cockpit.ops.journal import OpState
from cockpit.ops.rollout_view import GateSeries, RolloutView, chart_bounds, gate_value, limit_text
from cockpit.sparkline import BARS, resample

MARK = {"done": ("✓", "$success"), "now": ("▶", "$warning"), "paused": ("‖", "$warning"),
        "stopped": ("✗", "$error"), "skipped": ("»", "$text-muted"), "next": ("·", "$text-muted")}
LABEL = {"p95": "p95", "error_rate": "errors", "rps": "rps"}
MUTED = "$text-muted"


def state(v: RolloutView) -> tuple[str, str]:
    """What it is doing, or how it ended, in words a person acts on (and with what style)."""
    op = v.op
    if v.running:
        return ("paused: no step moves until resume (s)", "$warning") if v.paused else ("running", "$warning")
    if op.state is OpState.UNFINISHED:
        where = f" (begun on {op.host}, pid {op.pid})" if op.host else ""
        return f"outcome unknown: no process here runs it{where}", "$error"
    if op.state is OpState.OK:
        return "promoted", "$success"
    if op.state is OpState.ROLLED_BACK:
        return "rolled back", "$error"
    if op.state is OpState.CANCELLED:
        return "aborted", "$warning"
    if v.split:  # paused on no data, or failed half way: the traffic is (or may be) on both sides
        return f"{op.state.value}: traffic may still be split (a: abort sends it back)", "$error"
    if v.share == 0:
        return f"{op.state.value}, then aborted", "$warning"
    return op.state.value, "$error"


def share(v: RolloutView) -> str:
    """Where the traffic is: while the canary takes part of it, the share (exact for KServe; for a
    Deployment the share of the pods, which is what a Service's round robin gives once they run)."""
    if v.share is None:
        return ""
    if v.running or v.split:
        return (f"canary ~{v.share}% of traffic (by pods)" if v.deployment else
                f"canary takes {v.share}% of traffic")
    return "all traffic on the new version" if v.share == 100 else "all traffic on the stable"


def head(v: RolloutView, now: datetime) -> Content:
    op = v.op
    title = Content.assemble((f"rollout {op.id}", "bold"), f"  {op.target or '-'}")
    what = f"{v.model} v{v.version}" if v.version is not None else v.model
    shipping = Content.assemble(what, (f", replacing {v.replacing}" if v.replacing else "", MUTED))
    text, style = state(v)
    line: list[str | tuple[str, str]] = [(text, style), f"  {op.elapsed_text(now)}"]
    if op.ended is not None:
        line.append((f" (ended {op.ended.astimezone():%H:%M:%S})", MUTED))
    if (wait := v.next_reading_in(now)) is not None:
        line.append((f" · next reading in {wait:.0f}s", MUTED))
    if where := share(v):
        line.append(f" · {where}")
    return Content("\n").join([title, shipping, Content.assemble(*line)])


def steps(v: RolloutView) -> Content:
    parts: list[tuple[str, str] | str] = [("steps  ", MUTED)]
    for s, mark in v.step_marks():
        sym, style = MARK[mark]
        parts += [(f"{sym}{s}%", style), " "]
    every = f" every {v.interval_s:g}s" if v.interval_s is not None else ""
    limit = "?" if v.failure_limit is None else str(v.failure_limit)
    alias = f"then {v.promote_alias} → v{v.version}" if v.promote_alias else "no alias moves"
    parts.append((f"·{every} · back at {limit} fails · {alias}", MUTED))
    return Content.assemble(*parts)


def spark(g: GateSeries, width: int) -> Content:
    """The gate's readings, newest at the right, scaled from 0 to the larger of the readings and the
    threshold (a bar's height says how near the limit it came); red where a reading failed (a
    column of several readings fails if any did), green where it held, `·` where there was no data."""
    values = g.values()
    lo, hi = chart_bounds(g, values)
    cols = resample(values, width)
    failed = resample([1.0 if p.passed is False else 0.0 for p in g.points], width)
    parts: list[tuple[str, str]] = []
    for v, bad in zip(cols, failed, strict=True):
        if math.isnan(v):
            parts.append(("·", MUTED))
            continue
        level = 1.0 if math.isinf(v) else (v - lo) / (hi - lo or 1.0)
        bar = BARS[min(len(BARS) - 1, max(0, int(level * (len(BARS) - 1) + 0.5)))]
        parts.append((bar, "$error" if bad else "$success"))
    return Content.assemble(*parts) if parts else Content.styled("no reading yet", MUTED)


def gates(v: RolloutView, width: int) -> Content:
    if not v.gates:
        return Content.styled("gates: none on record", MUTED)
    name_w = min(24, max(4, *(len(g.text) for g in v.gates)))
    room = max(8, min(40, width - name_w - 31))
    when = f" · last {v.last_reading.astimezone():%H:%M:%S}" if v.last_reading else ""
    lines = [Content.assemble((f"{'GATE':<{name_w}}  {'LAST':>8}  {'LIMIT':<9} ", "bold"),
                              (f"{'READINGS' + when:<{room}} ", "bold"), ("FAILS", "bold"))]
    limit = "?" if v.failure_limit is None else str(v.failure_limit)
    for g in v.gates:
        last = g.last
        style = "" if last is None else MUTED if last.passed is None else "$success" if last.passed else "$error"
        bars = spark(g, room)
        lines.append(Content.assemble(
            f"{g.text[:name_w]:<{name_w}}  ", (f"{gate_value(g, last.value if last else None):>8}", style),
            f"  {limit_text(g):<9} ", bars, " " * max(1, room - bars.cell_length + 1),
            (f"{g.failures}/{limit}", "$error" if g.failures else "")))
    return Content("\n").join(lines)


def sides(v: RolloutView, cost: Content) -> Content:
    """The canary beside the stable at the last reading; a canary figure 20% worse than the
    stable's is red (more errors or a slower p95; RPS is the traffic split, not a verdict)."""
    when = (f"at the last reading, {v.compared_at.astimezone():%H:%M:%S}" if v.compared_at
            else "none read yet: the first reading ends the first step" if v.running else "no reading was made")
    lines = [Content.assemble((f"{'':<8}{'CANARY':>10}{'STABLE':>10}", "bold"), (f"   {when}", MUTED))]
    for key in SIDE_BY_SIDE:
        c, s = v.canary.get(key), v.stable.get(key)
        worse = key != "rps" and c is not None and s is not None and c > s * 1.2
        lines.append(Content.assemble(f"{LABEL.get(key, key):<8}", (f"{figure(key, c):>10}", "$error" if worse else ""),
                                      f"{figure(key, s):>10}"))
    lines.append(Content.assemble("cost    ", cost))
    return Content("\n").join(lines)


def cost(v: RolloutView, costs: Mapping[str, float], as_of: datetime | None) -> Content:
    """The workload's $/h now, from the allocation of its cluster's last read (OpenCost's split of
    each node's price by requests): a known $0 shows as $0, one not read as `-`."""
    cluster, _, rest = (v.op.target or "").partition("/")
    ns, _, name = rest.partition("/")
    base = f"{cluster}/{ns}"
    when = f" as of {as_of.astimezone():%H:%M:%S}" if as_of else ""
    if v.deployment:
        stable, canary = costs.get(f"{base}/Deployment/{name}"), costs.get(f"{base}/Deployment/{name}-canary")
        if not (v.running or v.split):
            canary = None  # its canary is gone: a `NAME-canary` now is another rollout's
        if stable is None and canary is None:
            return Content.styled(f"- (no priced pods of {name} in the cluster's last read{when})", MUTED)

        def shown(x: float | None) -> str:
            return "-" if x is None else fmt.dollars(x)

        total = (stable or 0.0) + (canary or 0.0)
        return Content(f"{fmt.dollars(total)}/h{when} (stable {shown(stable)}, canary {shown(canary)})")
    hourly = costs.get(f"{base}/InferenceService/{name}")
    if hourly is None:
        return Content.styled(f"- (no priced predictor pods of {name} in the cluster's last read{when})", MUTED)
    return Content(f"{fmt.dollars(hourly)}/h{when} (every revision's predictor pods)")


def story(v: RolloutView) -> str:
    lines = [f"{at.astimezone():%H:%M:%S}  {m}" for at, m in v.op.steps] or ["nothing recorded yet"]
    if v.op.error:
        lines.append(f"error: {v.op.error}")
    return "\n".join(lines)
