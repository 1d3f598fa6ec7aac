"""The read layer's poll loop, driven by hand: no threads, no clock. Workers and timers are lists
the test empties, so every ordering (a request while a fetch runs, a burst of requests, a failing
source) is played out exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cockpit.contracts import MACHINES
from cockpit.state.poller import Poller, PollResult


class Loop:
    """Stands in for the UI's worker threads and timers: what was started, and when it would run."""

    def __init__(self) -> None:
        self.work: list[Callable[[], None]] = []
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def run_work(self) -> None:
        job = self.work.pop(0)
        job()

    def fire(self) -> float:
        delay, fn = self.timers.pop(0)
        fn()
        return delay


def poller(fetch: Callable[[], int], interval: float = 10.0) -> tuple[Poller[int], Loop, list[PollResult[int]]]:
    loop = Loop()
    p: Poller[int] = Poller("test", fetch, interval_s=interval, run=loop.work.append,
                            later=lambda d, fn: loop.timers.append((d, fn)), deliver=lambda fn: fn(),
                            backoff_max_s=60)
    seen: list[PollResult[int]] = []
    p.subscribe(seen.append)
    return p, loop, seen


def test_one_fetch_at_a_time_and_a_burst_of_requests_is_one_more() -> None:
    calls = []
    p, loop, seen = poller(lambda: calls.append(1) or len(calls))
    p.request()
    assert p.busy and len(loop.work) == 1
    p.request()
    p.request()  # asked three times while the first runs: one more fetch, not three
    assert len(loop.work) == 1
    loop.run_work()
    assert [r.value for r in seen] == [1] and not p.busy
    assert loop.timers[0][0] == 0.1  # the queued one, right after
    loop.fire()
    loop.run_work()
    assert [r.value for r in seen] == [1, 2] and p.generation == 2
    assert loop.timers == [(10.0, loop.timers[0][1])]  # then the interval
    assert loop.work == []


def test_a_failing_fetch_backs_off_and_a_success_resets() -> None:
    answers: list[int | Exception] = [RuntimeError("down"), RuntimeError("down"), RuntimeError("down"), 7]

    def fetch() -> int:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    p, loop, seen = poller(fetch)
    p.request()
    delays = []
    for _ in range(3):
        loop.run_work()
        delays.append(loop.fire())
    assert delays == [20.0, 40.0, 60.0]  # doubled each time, capped at backoff_max_s
    assert [str(r.error) for r in seen] == ["down"] * 3 and p.failures == 3
    loop.run_work()
    assert seen[-1].value == 7 and seen[-1].error is None and p.failures == 0
    assert loop.timers[0][0] == 10.0


def test_interval_zero_polls_only_when_asked() -> None:
    p, loop, seen = poller(lambda: 1, interval=0)
    p.request()
    loop.run_work()
    assert seen and loop.timers == [] and loop.work == []
    p.request(0.3)
    assert loop.timers[0][0] == 0.3 and not p.busy
    unsubscribe = p.subscribe(lambda r: None)
    unsubscribe()
    unsubscribe()  # twice is harmless


def test_a_reread_of_the_sources_a_change_touched_keeps_the_others(tmp_path: Path) -> None:
    """After our own change, only its source is asked again; the rest keep their answers and errors."""
    from dataclasses import replace

    from cockpit.hub import Hub
    from cockpit.sandbox import demo_config
    from cockpit.state.inventory import Inventory, poll
    from tests.conftest import FIXED_NOW

    config = demo_config(audit_path=tmp_path / "audit.jsonl")
    config = replace(config, sources=tuple(s for s in config.sources if s.kind == "libvirt"))
    hub = Hub(config, now=lambda: FIXED_NOW)
    try:
        first = poll(hub, Inventory())
        before = {m.name: m.state.value for m in first.machines["rack-a"]}
        assert before["head-01"] == "running"
        hub.call("rack-a", MACHINES, lambda b: b.act("head-01", "force-off"))
        hub.call("rack-b", MACHINES, lambda b: b.act("h100-dev-01", "start"))
        marked = replace(first, errors={"rack-b": "rack-b: was failing"})
        again = poll(hub, marked, only={"rack-a"})
        assert {m.name: m.state.value for m in again.machines["rack-a"]}["head-01"] == "stopped"
        assert again.machines["rack-b"] == first.machines["rack-b"]  # not asked: as it was
        assert again.errors == {"rack-b": "rack-b: was failing"}
        assert again.polled_at == first.polled_at  # a partial re-read is not a full poll
    finally:
        hub.close()
