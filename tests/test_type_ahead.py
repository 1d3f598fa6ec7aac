"""Keys typed ahead reach what they were meant for (issue 16, Feedback): a `y` typed before a
change's question is on the screen answers it (it was dropped), a `y` typed after a command line's
Enter answers the question and does not join the line (`productiony`), and Esc is never held."""

from __future__ import annotations

from pathlib import Path

from textual import events

from cockpit.contracts import MACHINES
from screens.app import CockpitApp
from screens.widgets.dialogs import ConfirmScreen
from tests.conftest import read_audit
from tests.ui_helpers import loaded, make_app, wait_for


def burst(app: CockpitApp, *keys: str) -> None:
    """Queue every key before any is handled, as a terminal hands over what was typed fast."""
    named = {" ": "space", ":": "colon", "\r": "enter", "/": "slash", "-": "minus"}
    for k in keys:
        if len(k) == 1:
            app.post_message(events.Key(named.get(k, k), "\r" if k == "\r" else k))
        else:
            app.post_message(events.Key(k, None))


def done(tmp_path: Path) -> list[dict[str, object]]:
    """The changes that ended ok (the audit's intent line is written before the change runs)."""
    path = tmp_path / "audit.jsonl"
    return [e for e in read_audit(path) if e["result"] == "ok"] if path.exists() else []


def state(app: CockpitApp, name: str) -> int:
    return int(app.hub.call("rack-a", MACHINES, lambda b: b._conn.lookupByName(name).state()[0]))


async def test_a_y_typed_before_the_question_answers_it(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        app.screen.query_one("#machines-table").move_to("rack-a/login-01")  # type: ignore[attr-defined]
        await pilot.pause()
        burst(app, "x", "y")  # stop, yes: typed before the plan is read and the question drawn
        await wait_for(pilot, lambda: done(tmp_path), timeout=15)  # the change's outcome is written last
        assert [(e["command"], e["target"]) for e in done(tmp_path)] == [("vm stop", "rack-a/login-01")]
        assert state(app, "login-01") == 5  # VIR_DOMAIN_SHUTOFF


async def test_a_y_after_a_lines_enter_answers_its_question_not_the_line(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        burst(app, ":", *"vm suspend rack-a/head-01", "\r", "y")
        await wait_for(pilot, lambda: done(tmp_path), timeout=15)
        assert [(e["command"], e["target"]) for e in done(tmp_path)] == [("vm suspend", "rack-a/head-01")]
        assert state(app, "head-01") == 3  # VIR_DOMAIN_PAUSED
        assert app.command_history.lines[-1] == "vm suspend rack-a/head-01"  # not `...head-01y`


async def test_escape_is_never_held_and_what_waited_goes_first(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        app.hold_keys()  # as while a plan is read from a slow backend
        burst(app, "slash", "escape")
        await pilot.pause(0.2)
        assert app._held is None and app._holds == 0  # released at once, in order: / then Esc
        box = app.screen.query_one("FilterBox")
        assert not box.has_class("open")  # opened by `/`, closed by Esc, as typed
        burst(app, "x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        burst(app, "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert state(app, "a100-node-01") == 1  # still running: nothing changed


async def test_a_slow_plan_says_so_and_holds_the_keys_until_it_answers(tmp_path: Path, hanging_socket,  # type: ignore[no-untyped-def]
                                                                       monkeypatch) -> None:
    """A change planned against a source that does not answer: `planning…` shows (after a moment,
    here at once), keys typed meanwhile wait, and go to the screen once the plan gives up."""
    from cockpit.config import SourceConfig
    from cockpit.sandbox import demo_config
    from screens import type_ahead
    from tests.conftest import with_sources
    from tests.test_sanitise import toasts_text

    monkeypatch.setattr(type_ahead, "HINT_AFTER_S", 0.01)
    cfg = with_sources(demo_config(audit_path=tmp_path / "audit.jsonl"),
                       SourceConfig("stuck", "libvirt", timeout_seconds=3, settings={"uri": hanging_socket.uri}))
    app = make_app(tmp_path / "audit.jsonl", config=cfg, start_view="machines")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        app.dispatch(["vm stop stuck/ghost"])
        burst(app, "slash")
        await wait_for(pilot, lambda: "planning…" in toasts_text(app))
        assert app._held is not None and [k.key for k in app._held] == ["slash"]  # waiting, not lost
        await wait_for(pilot, lambda: app._held is None, timeout=20)  # the plan gave up: the keys went
        await wait_for(pilot, lambda: app.screen.query_one("FilterBox").has_class("open"))
