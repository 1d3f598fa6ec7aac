"""Sparklines as plain text: one string per line, so a table cell is one Segment and a refresh
that changes a value rewrites a few bytes, not a cell per bar (Textual's Sparkline widget styles
each bar). `plot` draws the larger chart shown on demand, with a value axis."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

BARS = "▁▂▃▄▅▆▇█"
BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: Sequence[float], width: int) -> list[float]:
    """`width` values: the maximum of each bucket when there are more points than columns (a spike
    must not vanish), the points as they are when there are fewer. NaN marks a gap."""
    if width <= 0 or not values:
        return []
    if len(values) <= width:
        return list(values)
    out = []
    for i in range(width):
        lo, hi = i * len(values) // width, max(i * len(values) // width + 1, (i + 1) * len(values) // width)
        bucket = [v for v in values[lo:hi] if not math.isnan(v)]
        out.append(max(bucket) if bucket else math.nan)
    return out


NOISE_FLOOR = 0.05
"""The smallest range a chart spans either side of its values' middle, as a share of their size: a
p95 that wanders between 71.6 and 72.4 ms is flat within noise and must look flat (it read
`72ms 72ms 72ms ▂▆▆▅▅▂▇▇` when scaled to its own range), while 500 -> 700 ms still shows its shape."""


def bounds(values: Sequence[float], unit: str = "") -> tuple[float, float]:
    """0..100 for percentages (a GPU at 3% must look idle); otherwise the values' own range, at least
    ±NOISE_FLOOR of their size (never below 0 for values that are not), so a latency that moves
    by a third shows its shape and one that moves by 1% looks flat. A flat line sits mid-height."""
    finite = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    if unit == "%":
        return 0.0, max(100.0, *finite) if finite else 100.0
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-9 * max(1.0, abs(hi)) and hi == 0:
        return lo - 1.0, hi + 1.0
    half = NOISE_FLOOR * max(abs(lo), abs(hi))
    if hi - lo < 2 * half:
        mid = (lo + hi) / 2
        low, high = mid - half, mid + half
        if low < 0 <= lo:  # counts and latencies do not go below zero: shift the window up instead
            low, high = 0.0, high - low
        return low, high
    return lo, hi


def spark(values: Sequence[float], width: int, lo: float, hi: float) -> str:
    """One line of bars, the newest at the right; gaps (NaN) are spaces."""
    span = hi - lo or 1.0
    chars = []
    for v in resample(values, width):
        if math.isnan(v):
            chars.append(" ")
        else:
            chars.append(BARS[min(len(BARS) - 1, max(0, int((v - lo) / span * (len(BARS) - 1) + 0.5)))])
    return "".join(chars).rjust(width)


def plot(values: Sequence[float], width: int, height: int, lo: float, hi: float,
         label: str = "{:.0f}") -> list[str]:
    """A bar chart `height` lines high (eighths of a line per step) with the axis values at the left."""
    axis = max(len(label.format(hi)), len(label.format(lo)))
    room = max(1, width - axis - 2)
    cols = resample(values, room)
    if cols and len(cols) < room:  # few points: widen each, some by one column more, to fill the chart
        cols = [cols[i * len(cols) // room] for i in range(room)]
    span = hi - lo or 1.0
    lines = []
    for row in range(height):
        top = height - row  # this line covers (top-1, top] in units of lines
        chars = []
        for v in cols:
            if math.isnan(v):
                chars.append(" ")
                continue
            filled = (v - lo) / span * height
            eighths = round((filled - (top - 1)) * 8)
            if row == height - 1:
                eighths = max(1, eighths)  # the lowest value still shows, unlike a gap
            chars.append(BLOCKS[max(0, min(8, eighths))])
        tick = label.format(hi) if row == 0 else label.format(lo) if row == height - 1 else ""
        lines.append(f"{tick:>{axis}} ┤" + "".join(chars))
    return lines


def time_axis(width: int, label: str, span_s: float, fmt_age: Callable[[float], str]) -> list[str]:
    """The line under `plot` (same `width` and axis `label`): a rule with ticks, then how long ago
    each tick was (`-1h ... -30m ... now`), so a spike can be placed in time."""
    axis = len(label)
    room = max(1, width - axis - 2)
    fractions = (0.0, 0.25, 0.5, 0.75, 1.0) if room >= 40 else (0.0, 0.5, 1.0)
    ticks = [round(f * (room - 1)) for f in fractions]
    rule = ["─"] * room
    for t in ticks:
        rule[t] = "┴"
    names = [f"-{fmt_age(span_s * (1 - f))}" if f < 1 else "now" for f in fractions]
    text = [" "] * room
    for t, name in zip(ticks, names, strict=True):
        start = min(max(0, t - len(name) // 2), room - len(name))
        if all(c == " " for c in text[max(0, start - 1):start + len(name) + 1]):
            text[start:start + len(name)] = name
    return [" " * axis + " └" + "".join(rule), " " * (axis + 2) + "".join(text)]
