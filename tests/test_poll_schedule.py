"""Issue 14, the read layer's scheduling: a source that is down is backed off (on the hub's clock,
here one that starts at 0), refresh-now and our own change's re-read ask it anyway, and a poll
that began before our own change never paints the changed source's old state after the change's
re-read. Driven by hand: injected clock, workers and deliveries are lists the test empties."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import SourceConfig
from cockpit.contracts import MACHINES
from cockpit.hub import Hub
from cockpit.model import HealthState, SourceHealth
from cockpit.sandbox import demo_config
from cockpit.state.inventory import Inventory, Round, merge, poll_round, source_polls
from cockpit.state.poller import Poller
from cockpit.state.schedule import SourcePolls, describe
from screens.widgets.dialogs import ConfirmScreen
from tests.conftest import FIXED_NOW
from tests.test_poller import Loop
from tests.ui_helpers import loaded, make_app, wait_for, workers_done

ZERO = datetime.fromtimestamp(0, UTC)


class Clock:
    """The hub's injectable clock, started at 0 and moved by the test."""

    def __init__(self) -> None:
        self.t = ZERO

    def __call__(self) -> datetime:
        return self.t

    def at(self, seconds: float) -> None:
        self.t = ZERO + timedelta(seconds=seconds)


def polls(interval: float = 10.0) -> tuple[SourcePolls, Clock]:
    clock = Clock()
    return SourcePolls(clock, interval, {"down": "machines", "up": "machines"}), clock


def fail(p: SourcePolls, source: str = "down", *, force: bool = False) -> None:
    ask = p.begin([source], force=force)
    assert ask.asked == (source,)
    p.record(source, False, ask)


def asked(p: SourcePolls) -> tuple[str, ...]:
    """One periodic round over both sources, each of which answers."""
    ask = p.begin(["down", "up"])
    for s in ask.asked:
        p.record(s, True, ask)
    return ask.asked


def test_a_source_down_k_times_is_skipped_until_interval_times_two_to_the_k() -> None:
    p, clock = polls()
    start = 0.0
    for k, wait in ((1, 20), (2, 40), (3, 80)):
        fail(p)
        assert p.unit("down").failures == k
        assert p.next_try("down") == ZERO + timedelta(seconds=start + wait)
        clock.at(start + wait - 1)
        ask = p.begin(["down", "up"])
        assert ask.asked == ("up",) and ask.skipped == ("down",)  # the healthy one is still asked
        p.record("up", True, ask)
        clock.at(start + wait)
        assert p.next_try("down") is None  # due: the next periodic round asks it
        start += wait
    fail(p)  # the 4th in a row: 160 s
    assert p.next_try("down") == clock.t + timedelta(seconds=160)
    clock.at(start + 160)
    fail(p)  # the 5th: 320 s, capped at 5 minutes
    assert p.next_try("down") == clock.t + timedelta(seconds=300) and p.backoff_s(12) == 300.0


def test_refresh_now_asks_a_source_in_backoff_and_resets_nothing_unless_it_answers() -> None:
    p, _ = polls()
    fail(p)
    fail(p, force=True)  # a re-read of our change asks it regardless...
    # ...and it fails: the schedule is as it was
    assert p.unit("down").failures == 1 and p.next_try("down") == ZERO + timedelta(seconds=20)
    p.refresh_now()
    ask = p.begin(["down", "up"])
    assert ask.asked == ("down", "up") and "down" not in ask.due
    p.record("down", False, ask)
    p.record("up", True, ask)
    assert p.unit("down").failures == 1 and p.next_try("down") == ZERO + timedelta(seconds=20)
    assert asked(p) == ("up",)  # the poke was used up: back to the schedule
    p.refresh_now(["down"])
    ask = p.begin(["down", "up"])
    p.record("down", True, ask)  # it answers: recovered, asked at every round again
    p.record("up", True, ask)
    assert p.unit("down").failures == 0 and p.next_try("down") is None
    assert asked(p) == ("down", "up")


def test_recovery_resets_the_backoff() -> None:
    p, clock = polls()
    fail(p)
    clock.at(20)
    fail(p)
    clock.at(60)
    ask = p.begin(["down"])
    p.record("down", True, ask)
    assert p.unit("down").failures == 0
    fail(p)
    assert p.next_try("down") == clock.t + timedelta(seconds=20)  # from the start again, not 80 s


def test_no_backoff_without_a_periodic_poll_and_one_ask_at_a_time() -> None:
    p, _ = polls(interval=0)
    fail(p)
    fail(p)
    assert p.next_try("down") is None and asked(p) == ("down", "up")  # every request asks: nothing periodic
    p, _ = polls()
    first = p.begin(["up"])
    assert p.begin(["up", "down"]).asked == ("down",)  # "up" is being asked: that round brings its answer
    assert p.begin(["up"], force=True).asked == ("up",)  # a re-read of our change asks all the same
    p.record("up", True, first)


def test_describe_says_when_the_next_try_is() -> None:
    h = SourceHealth("rack-c", "libvirt", HealthState.DOWN, "rack-c: cannot reach",
                     since=ZERO + timedelta(hours=9, minutes=30))
    later = ZERO + timedelta(hours=9, minutes=31, seconds=20)
    assert describe(h, later) == "down since 09:30:00 · next try 09:31:20: rack-c: cannot reach"
    assert describe(h, later, why=False) == "down since 09:30:00 · next try 09:31:20"
    assert describe(h, None) == h.describe() == "down since 09:30:00: rack-c: cannot reach"
    assert describe(replace(h, state=HealthState.OK), later) == "ok"


# -- against a real hub: the demo's libvirt hosts and one that cannot be opened ------------------
@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    config = demo_config(audit_path=tmp_path / "audit.jsonl")
    lost = SourceConfig("lost", "libvirt", settings={"uri": "test:///nowhere/host.xml"})
    config = replace(config, sources=(*(s for s in config.sources if s.kind == "libvirt"), lost))
    return Hub(config, now=Clock())


def state(inv: Inventory, ref: str) -> str:
    m = inv.find(ref)
    assert m is not None, ref
    return m.state.value


def test_a_skipped_source_keeps_its_last_answer_and_its_error(hub: Hub) -> None:
    try:
        sp = source_polls(hub, 10)
        assert {u.source: u.role for u in sp.units()} == {"rack-a": "machines", "rack-b": "machines",
                                                          "lost": "machines"}
        first = poll_round(hub, Inventory(), polls=sp)
        assert first.sources == {"rack-a", "rack-b", "lost"} and "lost" in first.inventory.errors
        assert hub.health("lost").state is HealthState.DOWN
        inv = merge(Inventory(), first, sp)
        again = poll_round(hub, inv, polls=sp)
        assert again.sources == {"rack-a", "rack-b"}  # not asked: no call, no wait for its timeout
        shown = merge(inv, again, sp)
        assert shown.errors == inv.errors and shown.loaded and shown.machines["rack-a"]
        assert sp.next_try("lost") == ZERO + timedelta(seconds=20)
        assert poll_round(hub, shown, only={"lost"}, polls=sp).sources == {"lost"}  # a re-read asks it
        sp.refresh_now()
        assert poll_round(hub, shown, polls=sp).sources == {"rack-a", "rack-b", "lost"}  # and so does ctrl+r
        assert sp.unit("lost").failures == 1
    finally:
        hub.close()


def test_a_poll_that_began_before_our_change_never_repaints_the_old_state(hub: Hub) -> None:
    """The main poll reads rack-a (head-01 running), then our `stop` completes and its re-read is
    shown; the main poll's answers, delivered after, partial and final, keep head-01 stopped and
    still bring the other sources' news."""
    try:
        sp = source_polls(hub, 10)
        loop = Loop()
        deliveries: list[Callable[[], None]] = []
        shown: list[Inventory] = [Inventory()]

        def show(rnd: Round) -> None:
            shown.append(merge(shown[-1], rnd, sp))

        def fetch() -> Round:
            return poll_round(hub, shown[-1], lambda part: deliveries.append(lambda: show(part)), polls=sp)

        p: Poller[Round] = Poller("poll", fetch, interval_s=10, run=loop.work.append,
                                  later=lambda d, fn: loop.timers.append((d, fn)), deliver=deliveries.append)
        p.subscribe(lambda r: show(r.value) if r.value is not None else None)
        p.request()
        loop.run_work()
        while deliveries:
            deliveries.pop(0)()
        assert state(shown[-1], "rack-a/head-01") == "running" and p.generation == 1

        hub.call("rack-b", MACHINES, lambda b: b.act("h100-dev-01", "start"))  # news the next poll brings
        loop.fire()
        loop.run_work()  # the main poll has read everything: its answers wait to be delivered
        assert deliveries and p.busy

        hub.call("rack-a", MACHINES, lambda b: b.act("head-01", "force-off"))  # our own change completes
        sp.changed({"rack-a"})
        reread = poll_round(hub, shown[-1], only={"rack-a"}, polls=sp)
        show(reread)
        assert state(shown[-1], "rack-a/head-01") == "stopped"

        mark = len(shown)
        while deliveries:
            deliveries.pop(0)()
        assert p.generation == 2 and len(shown) > mark + 1  # partial answers and the final one
        assert all(state(inv, "rack-a/head-01") == "stopped" for inv in shown[mark:])
        assert state(shown[-1], "rack-b/h100-dev-01") == "running"  # the other sources' answers are taken
        assert "lost" in shown[-1].errors and shown[-1].loaded

        hub.call("rack-a", MACHINES, lambda b: b.act("head-01", "start"))  # changed elsewhere, later
        loop.fire()  # a poll that begins after our change is shown for rack-a again
        loop.run_work()
        while deliveries:
            deliveries.pop(0)()
        assert state(shown[-1], "rack-a/head-01") == "running" and p.generation == 3
    finally:
        hub.close()


# -- in the app, driven through Pilot: every wait is on the poll's own worker or an event ---------
class Calls:
    """Counts the hub's calls per source (the app's own asks), and can hold one answer back."""

    def __init__(self, hub: Hub) -> None:
        self.count: dict[str, int] = {}
        self.hold: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        real = hub.call

        def call(source: str, role: Any, fn: Any, **kw: Any) -> Any:
            self.count[source] = self.count.get(source, 0) + 1
            got = real(source, role, fn, **kw)
            if source == self.hold and role is MACHINES:
                self.hold = None  # this one only: read now, handed back when the test says
                self.held.set()
                self.release.wait(60)
            return got

        hub.call = call  # type: ignore[method-assign]


async def test_the_app_backs_off_a_source_that_is_down_and_ctrl_r_asks_it(tmp_path: Path) -> None:
    clock = Clock()
    clock.t = FIXED_NOW
    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    lost = SourceConfig("lost", "libvirt", settings={"uri": "test:///nowhere/host.xml"})
    config = replace(base, sources=(*(s for s in base.sources if s.kind == "libvirt"), lost))
    # a periodic poll every 10 minutes: it never fires in the test, but its interval is the backoff's unit
    app = make_app(tmp_path / "audit.jsonl", config=config, now=clock, refresh_seconds=600)
    calls = Calls(app.hub)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        assert calls.count["lost"] == 1 and app.hub.health("lost").state is HealthState.DOWN
        overview = str(app.screen.query_one("#overview-problems").render())
        # backoff: the interval doubled, capped at 5 minutes or the interval if longer (here 10 minutes)
        assert "down since 09:30:00 · next try 09:40:00: lost: cannot open test:///nowhere/host.xml" in overview

        async def poll(press: str | None = None) -> None:
            generation = app.main_poll.generation
            if press:
                await pilot.press(press)
            else:
                app.request_poll(0)
            while app.main_poll.generation == generation:
                await workers_done(pilot, "poll")
                await pilot.pause()

        await poll()
        assert calls.count["lost"] == 1 and calls.count["rack-a"] >= 2  # skipped; the others asked
        await poll("ctrl+r")
        assert calls.count["lost"] == 2  # the person's refresh asks it; failing again changes nothing
        assert app.source_polls.next_try("lost") == FIXED_NOW + timedelta(minutes=10)
        clock.t = FIXED_NOW + timedelta(minutes=10)
        await poll()
        assert calls.count["lost"] == 3 and app.source_polls.unit("lost").failures == 2
        await pilot.pause()
        overview = str(app.screen.query_one("#overview-problems").render())
        assert "down since 09:30:00 · next try 09:50:00: lost: cannot open" in overview


async def test_a_poll_begun_before_our_stop_never_shows_the_vm_running_again(tmp_path: Path) -> None:
    """The main poll reads rack-a (head-01 running) and is held there; `vm stop` is confirmed and
    its re-read shows head-01 stopped; then the held poll is delivered: head-01 stays stopped."""
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    calls = Calls(app.hub)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        assert state(app.inventory, "rack-a/head-01") == "running"
        seen: list[str] = []
        app.main_poll.subscribe(lambda _r: seen.append(state(app.inventory, "rack-a/head-01")))
        partial = app._poll_partial

        def record_partial(rnd: Round) -> None:
            partial(rnd)
            seen.append(state(app.inventory, "rack-a/head-01"))

        app._poll_partial = record_partial  # type: ignore[method-assign]
        calls.hold = "rack-a"
        generation = app.main_poll.generation
        app.request_poll(0)
        await wait_for(pilot, calls.held.is_set)  # the poll has read head-01 running; it waits

        await pilot.press("colon", *"vm stop rack-a/head-01", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: state(app.inventory, "rack-a/head-01") == "stopped")  # the re-read
        seen.clear()

        calls.release.set()  # the held poll comes back with what it read before the stop
        while app.main_poll.generation == generation:
            await workers_done(pilot, "poll")
            await pilot.pause()
        assert seen and set(seen) == {"stopped"}, seen
        await workers_done(pilot, "poll")
        assert state(app.inventory, "rack-a/head-01") == "stopped"
