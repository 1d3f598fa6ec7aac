"""Per-source polling: when each source is asked next, and whether an answer is still the truth.

Why a schedule per source: the app's poll asked every source at every interval, so a source that
is down was asked again each time, each ask waiting its full timeout, and the whole poll waited
for it. Here each (source, role) is a `SourcePoll` of its own: a periodic poll asks only the
sources that are due; one whose scheduled asks failed k times in a row is skipped until
interval * 2^k (capped) has passed, keeping its last answer and its error (its health, down, is
what marks those stale). A refresh-now (ctrl+r) and our own change's re-read ask regardless, and
move the schedule only when the source answers: a person's pokes neither reset nor lengthen it.

Why write epochs: a poll that started before our own change to a source can come back after the
change's re-read, and would paint the source's old state again (a VM `running` just after its
`stop` was confirmed). Each completed change bumps its source's epoch; a poll takes the epochs
when it begins, and its answers for a source whose epoch moved since are dropped at delivery.

Time is the hub's injectable clock, never `time.monotonic()`: tests start it wherever they like
(at 0, say), and a machine booted a minute ago behaves like any other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cockpit.model import HealthState, SourceHealth

BACKOFF_CAP_S = 300.0
"""A source that is down is still asked at least this often (or at the interval, if longer)."""


@dataclass(frozen=True, slots=True)
class SourcePoll:
    """One (source, role) question's schedule, as of now."""

    source: str
    role: str
    failures: int = 0
    """Scheduled asks in a row that failed; the wait before the next one doubles with each."""
    retry_at: datetime | None = None
    """A periodic poll skips the source until then (None: it is asked at every one)."""
    forced: bool = False
    """Refresh-now was asked: the next round that could ask it does, whatever its backoff."""
    in_flight: int = 0
    """Asks under way: a periodic round leaves the source to the one already asking it."""
    epoch: int = 0
    """Our own completed changes to this source; answers read before the latest are not shown."""

    def due(self, now: datetime) -> bool:
        return self.retry_at is None or now >= self.retry_at


@dataclass(frozen=True, slots=True)
class Ask:
    """What one round asks, taken when it begins."""

    asked: tuple[str, ...]
    skipped: tuple[str, ...]
    """Sources left out: in backoff, or already being asked by another round."""
    due: frozenset[str]
    """The asked sources the schedule itself would have asked: only their failures move it."""
    epochs: Mapping[str, int]
    """Each asked source's write epoch when the round began."""


class SourcePolls:
    """Every source's schedule and write epoch; thread-safe (a round's asks answer in threads)."""

    def __init__(self, clock: Callable[[], datetime], interval_s: float, roles: Mapping[str, str] | None = None,
                 *, cap_s: float = BACKOFF_CAP_S) -> None:
        self._clock = clock
        self.interval_s = interval_s
        """The periodic poll's interval, the backoff's unit (0: no periodic poll, so no backoff)."""
        self._cap_s = cap_s
        self._lock = threading.Lock()
        self._units: dict[str, SourcePoll] = {name: SourcePoll(name, role) for name, role in (roles or {}).items()}

    def unit(self, source: str) -> SourcePoll:
        with self._lock:
            return self._get(source)

    def units(self) -> list[SourcePoll]:
        with self._lock:
            return list(self._units.values())

    def backoff_s(self, failures: int) -> float:
        """How long a source whose scheduled asks failed `failures` times in a row is skipped."""
        if self.interval_s <= 0 or failures <= 0:
            return 0.0
        return float(min(self.interval_s * 2 ** min(failures, 16), max(self._cap_s, self.interval_s)))

    def begin(self, sources: Sequence[str], *, force: bool = False) -> Ask:
        """Start a round over `sources`: which to ask now. `force` (our change's re-read) asks all
        of them; otherwise a source is asked when refresh-now was requested for it, or when it is
        due and no other round is asking it already."""
        now = self._clock()
        asked: list[str] = []
        skipped: list[str] = []
        due: set[str] = set()
        epochs: dict[str, int] = {}
        with self._lock:
            for name in sources:
                u = self._get(name)
                on_time = u.due(now)
                if not (force or u.forced or (on_time and not u.in_flight)):
                    skipped.append(name)
                    continue
                asked.append(name)
                if on_time:
                    due.add(name)
                epochs[name] = u.epoch
                self._units[name] = replace(u, forced=False, in_flight=u.in_flight + 1)
        return Ask(tuple(asked), tuple(skipped), frozenset(due), epochs)

    def record(self, source: str, ok: bool, ask: Ask) -> None:
        """A source asked in `ask` answered (`ok`) or failed. An answer resets its backoff; a
        failure lengthens it only if the schedule itself had asked (not a refresh-now's poke)."""
        now = self._clock()
        with self._lock:
            u = self._get(source)
            u = replace(u, in_flight=max(0, u.in_flight - 1))
            if ok:
                u = replace(u, failures=0, retry_at=None)
            elif source in ask.due:
                failures = u.failures + 1
                wait = self.backoff_s(failures)
                u = replace(u, failures=failures, retry_at=now + timedelta(seconds=wait) if wait else None)
            self._units[source] = u

    def refresh_now(self, sources: Iterable[str] | None = None) -> None:
        """The person asked for fresh figures: the next round asks these (default: all) sources."""
        with self._lock:
            names = list(self._units) if sources is None else list(sources)
            for name in names:
                self._units[name] = replace(self._get(name), forced=True)

    def changed(self, sources: Iterable[str]) -> None:
        """Our own change to these sources completed: answers read before now are not shown."""
        with self._lock:
            for name in sources:
                u = self._get(name)
                self._units[name] = replace(u, epoch=u.epoch + 1)

    def epochs(self) -> dict[str, int]:
        with self._lock:
            return {name: u.epoch for name, u in self._units.items()}

    def unchanged(self, epochs: Mapping[str, int], sources: Collection[str]) -> frozenset[str]:
        """Those of `sources` with no change of ours since `epochs` were taken: their answers stand."""
        with self._lock:
            return frozenset(s for s in sources if self._get(s).epoch == epochs.get(s, 0))

    def next_try(self, source: str) -> datetime | None:
        """When a periodic poll asks a source in backoff again (None: at the next one)."""
        u = self.unit(source)
        if u.failures and u.retry_at is not None and u.retry_at > self._clock():
            return u.retry_at
        return None

    def _get(self, source: str) -> SourcePoll:
        u = self._units.get(source)
        if u is None:  # a source no role was given for: scheduled all the same
            u = self._units[source] = SourcePoll(source, "")
        return u


def describe(health: SourceHealth, next_try: datetime | None, why: bool = True) -> str:
    """A source's health as the Overview says it: `down since 09:30:00 · next try 09:31:20: why`
    (the time before the reason, which may be long and is what a line cut at the edge loses)."""
    if next_try is None or health.state in (HealthState.OK, HealthState.UNKNOWN):
        return health.describe(why)
    text = f"{health.describe(why=False)} · next try {next_try.astimezone().strftime('%H:%M:%S')}"
    return f"{text}: {health.reason}" if why and health.reason else text
