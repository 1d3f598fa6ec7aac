"""Sparklines as plain text: one string per line, so a table cell is one Segment and a refresh
that changes a value rewrites a few bytes, not a cell per bar (Textual's Sparkline widget styles
each bar). `plot` draws the larger chart shown on demand, with a value axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def bounds(values: Sequence[float], unit: str = "") -> tuple[float, float]:
    """0..100 for percentages (a GPU at 3% must look idle); otherwise the values' own range, so a
    latency that moves between 610 and 640 ms shows its shape. A flat line sits mid-height."""
    finite = [v for v in values if not math.isnan(v)]
    if unit == "%":
        return 0.0, max(100.0, *finite) if finite else 100.0
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        return lo - 1.0, hi + 1.0
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
    if cols and len(cols) < room:  # few points: widen each to fill the chart
        cols = [v for v in cols for _ in range(room // len(cols))]
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
