"""How old a figure is, and whether it may still be shown as the truth.

A figure is stale when the source it came from failed its last call (the figure is what it said
before), or when it is older than twice the interval it should be refreshed at. Stale figures are
still shown, marked, with the time they are from: an operator who sees an old GPU% as live acts on
it. Unknown (never answered) is not stale and not zero: it is shown as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.model import HealthState, SourceHealth

STALE_AFTER_INTERVALS = 2.0
STALE_MARK = "~"
"""Put before a stale figure in a table cell; the screen's summary line says why and since when."""


@dataclass(frozen=True, slots=True)
class Freshness:
    as_of: datetime | None
    """When the figures were read (None: never)."""
    stale: bool
    why: str | None = None
    """Why they are stale: the source's last error, or their age."""

    def describe(self) -> str:
        """`as of 12:00:41`, or `stale, as of 12:00:41 (prom: cannot reach ...)`: the time before the
        reason, which may be long and is what a line cut at the screen's edge loses."""
        when = f"as of {self.as_of.astimezone().strftime('%H:%M:%S')}" if self.as_of else "never answered"
        return f"stale, {when} ({self.why})" if self.stale else when


def judge(as_of: datetime | None, now: datetime | None, interval_s: float | None, error: str | None) -> Freshness:
    """The freshness of figures read at `as_of`, refreshed every `interval_s`, whose source's last
    call failed with `error` (None: it answered)."""
    if error:
        return Freshness(as_of, as_of is not None, error)
    if as_of is not None and now is not None and interval_s:
        age = (now - as_of).total_seconds()
        if age > STALE_AFTER_INTERVALS * interval_s:
            return Freshness(as_of, True, f"not refreshed for {age:.0f}s")
    return Freshness(as_of, False)


def marked(text: str, stale: bool) -> str:
    """A table cell's text, marked when its figure is stale (never a "-" or an empty cell)."""
    return f"{STALE_MARK}{text}" if stale and text not in ("", "-") else text


def last_error(health: SourceHealth) -> str | None:
    """What `judge` takes as `error` for figures read from this source: why its last call failed
    (down or degraded), else None. A source that answered last, or was never asked, has no failure
    to make earlier figures stale; never answered is unknown, which `judge` keeps apart."""
    if health.state in (HealthState.DOWN, HealthState.DEGRADED):
        return health.reason or health.state.value
    return None
