"""One single-flight poll loop per question (a role's sources, a cluster's caches, the metrics).

Why a class of its own: the app had three hand-written loops, each with its own busy and again
flags, and each got one of them subtly different. A `Poller` is the one rule: never two fetches of
the same question at once; a request while one runs is remembered and served right after it;
when it is done, its subscribers get the answer and the next run is scheduled after the interval;
a fetch that raises backs off (doubling, bounded) instead of hammering a broken source.

It is Textual-free: the caller lends it a way to run a function in a worker thread, a way to call
later, and a way to hand a result back to its own thread. The UI lends Textual's workers, timers
and `call_from_thread`; a test lends plain calls and a list of pending timers, and so drives it
with no clock at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Unsubscribe = Callable[[], None]


@dataclass(frozen=True, slots=True)
class PollResult(Generic[T]):
    """One finished fetch: its answer, or the error it raised (the subscribers decide what to show)."""

    generation: int
    value: T | None
    error: BaseException | None = None


class Poller(Generic[T]):
    def __init__(self, name: str, fetch: Callable[[], T], *, interval_s: float,
                 run: Callable[[Callable[[], None]], object], later: Callable[[float, Callable[[], None]], object],
                 deliver: Callable[[Callable[[], None]], object], backoff_max_s: float = 300.0) -> None:
        self.name = name
        self.interval_s = interval_s
        """Seconds from one fetch's end to the next start; 0: only when requested."""
        self._fetch = fetch
        self._run = run
        self._later = later
        self._deliver = deliver
        self._backoff_max_s = backoff_max_s
        self._subscribers: list[Callable[[PollResult[T]], None]] = []
        self.busy = False
        self._again = False
        self.generation = 0
        """How many fetches have finished (a test waits for this to move, never for a clock)."""
        self.failures = 0
        """Fetches in a row that raised; the next interval doubles with each, up to backoff_max_s."""

    def subscribe(self, fn: Callable[[PollResult[T]], None]) -> Unsubscribe:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def request(self, delay: float = 0.0) -> None:
        """Ask now (or after `delay`); while a fetch runs, one more follows it, however many ask."""
        if self.busy:
            self._again = True
            return
        if delay > 0:
            self._later(delay, self._start)
        else:
            self._start()

    def next_delay(self) -> float:
        """When the loop asks again after a fetch: the interval, doubled per failure in a row."""
        if self.interval_s <= 0:
            return 0.0
        if not self.failures:
            return self.interval_s
        return float(min(self.interval_s * 2 ** min(self.failures, 16), max(self._backoff_max_s, self.interval_s)))

    # -- the loop ------------------------------------------------------------------------------
    def _start(self) -> None:
        if self.busy:
            self._again = True
            return
        self.busy = True
        self._run(self._work)

    def _work(self) -> None:
        """In the worker: fetch, then hand the outcome back to the caller's thread."""
        value: T | None = None
        error: BaseException | None = None
        try:
            value = self._fetch()
        except Exception as e:  # a bug, or a source failing in a way the fetch did not absorb
            error = e
        self._deliver(lambda: self._done(value, error))

    def _done(self, value: T | None, error: BaseException | None) -> None:
        self.busy = False
        self.generation += 1
        self.failures = self.failures + 1 if error is not None else 0
        result = PollResult(self.generation, value, error)
        for fn in list(self._subscribers):
            fn(result)
        if self._again:
            self._again = False
            self.request(0.1)
        elif self.interval_s > 0:
            self._later(self.next_delay(), self._start)
