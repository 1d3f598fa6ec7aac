"""The `:` command line (issue 16): history across runs (Up/Down, kept private in the state
directory, prefix search, no secrets), a refused line stays open with the error under it, and a
listing comes back as a real table (filter, sort), not the script's text table in a box."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import default_state_dir
from cockpit.history import History
from screens.machines import MachinesScreen
from screens.widgets.command_line import CommandLine
from screens.widgets.result_table import ResultTableScreen
from screens.widgets.virtual_table import VirtualTable
from tests.ui_helpers import loaded, make_app, wait_for


def test_history_walks_back_by_prefix_and_forgets_duplicates(tmp_path: Path) -> None:
    h = History(tmp_path / "h")
    for line in ("vm list", "deploy list", "vm start rack-a/x", "vm list"):
        h.add(line)
    assert h.lines == ["deploy list", "vm start rack-a/x", "vm list"]  # the repeat moved to the end
    assert [h.older(""), h.older(""), h.older(""), h.older("")] == ["vm list", "vm start rack-a/x", "deploy list",
                                                                    None]
    assert h.newer() == "vm start rack-a/x"
    h.reset()
    assert h.older("vm s") == "vm start rack-a/x" and h.older("vm s") is None  # only lines that start so
    assert h.newer() == "vm s"  # past the newest: what was being typed
    assert h.newer() is None


def test_history_is_private_bounded_and_keeps_no_secret_or_hostile_line(tmp_path: Path) -> None:
    path = tmp_path / "state" / "command_history"
    h = History(path, limit=3)
    h.add("vm list --source http://admin:hunter2@10.0.0.1/")  # a password in a URI: never written
    h.add("deploy list\x1b[31m")  # an escape sequence: it would be shown again as typed
    for i in range(5):
        h.add(f"vm list --state running{i}")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "hunter2" not in text and "\x1b" not in text
    assert text.splitlines() == [f"vm list --state running{i}" for i in (2, 3, 4)]
    path.write_text("vm list\nbad \u202e line\n" + "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"))
    assert History(path).lines == ["vm list", "ÿ"]  # read back without the bidi line
    blocked = tmp_path / "file"
    blocked.write_text("")
    h = History(blocked / "history")  # a directory that cannot exist: the history lives in memory
    h.add("vm list")
    assert h.older("") == "vm list"


async def test_up_brings_back_lines_from_an_earlier_run(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("colon", *"vm list --source rack-b", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultTableScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MachinesScreen))
    assert (default_state_dir() / "command_history").read_text() == "vm list --source rack-b\n"

    again = make_app(tmp_path / "audit.jsonl", start_view="machines")  # a new run
    async with again.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("colon", "up")
        line = again.screen.query_one(CommandLine)
        assert line.value == "vm list --source rack-b"
        await pilot.press("down")
        assert line.value == ""  # back to what was typed: nothing
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(again.screen, ResultTableScreen))


async def test_a_refused_line_stays_open_with_the_error_under_it(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        screen = app.screen
        await pilot.press("colon", *"vm start rack-a/no-such-vm", "enter")  # parses; the plan is refused
        line = screen.query_one(CommandLine)
        error = screen.query_one("#command-error")
        await wait_for(pilot, lambda: error.has_class("shown"))
        assert line.has_class("open") and line.has_focus and line.value == "vm start rack-a/no-such-vm"
        assert "no-such-vm" in str(error.render())
        assert error.region.y == line.region.y + 1  # under the line, not a toast that fades
        await pilot.press("backspace")  # fixing the line hides the error
        await wait_for(pilot, lambda: not error.has_class("shown"))
        await pilot.press("escape")
        assert not line.has_class("open")
        await pilot.press("colon", *"vm strat x", "enter")  # does not parse: the same, at once
        await pilot.pause()
        assert line.has_class("open") and error.has_class("shown") and "vm strat" in str(error.render())


async def test_a_listing_is_a_table_to_filter_and_sort(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("colon", *"vm list", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultTableScreen))
        dialog = app.screen
        table = dialog.query_one("#result-table", VirtualTable)
        assert [c.label for c in table.columns][:3] == ["MACHINE", "STATE", "TYPE"]
        everything = table.visible_count
        assert everything == 9 and str(dialog.query_one("#result-summary").render()) == "9 rows"
        await pilot.press("slash", *"rack-b")
        await pilot.pause()
        assert table.visible_count == 3
        assert str(dialog.query_one("#result-summary").render()) == "9 rows · showing 3 matching 'rack-b'"
        await pilot.press("enter", "o")  # back to the table; sort by its first column
        names = [str(k) for k in table.visible_keys()]
        assert [table.row(k).cells[0] for k in table.visible_keys()] == sorted(  # type: ignore[union-attr]
            table.row(k).cells[0] for k in table.visible_keys())  # type: ignore[union-attr]
        assert len(names) == 3
        await pilot.press("escape")  # the filter goes first
        assert table.visible_count == everything and isinstance(app.screen, ResultTableScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MachinesScreen))


async def test_keys_typed_ahead_of_a_view_switch_reach_the_new_view_in_order(tmp_path: Path) -> None:
    """`2:vm list⏎` typed at once (or before the app is up): the view switches first, then the line
    opens on it; before, `2` reached the app behind the rest, the line opened on the old view and
    the new view's table took Enter."""
    from textual import events

    app = make_app(tmp_path / "audit.jsonl", start_view="overview")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        typed = [("2", "2"), ("colon", ":"), *((c if c != " " else "space", c) for c in "vm list"), ("ctrl+j", "\n")]
        for key, character in typed:  # all queued before any is handled, as a terminal delivers a burst
            app.post_message(events.Key(key, character))
        await wait_for(pilot, lambda: isinstance(app.screen, ResultTableScreen))
        assert app.current_mode == "machines"
        assert app.screen_stack[-2].query_one("#machines-table", VirtualTable).marked == set()
        await pilot.press("escape")
        await pilot.press("colon", *"deploy scale gpu-prod/inference/router 3")  # a view's digit, typed into the line
        assert app.current_mode == "machines"
        assert app.screen.query_one(CommandLine).value == "deploy scale gpu-prod/inference/router 3"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_listing_table_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    from tests.test_snapshots import app_for

    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("colon", *"gpu list", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultTableScreen))
        await pilot.press("slash", *"a100")
        await pilot.press("enter", "o")
        await pilot.pause(0.05)

    assert snap_compare(app_for("machines"), terminal_size=size, run_before=run_before)


async def test_alias_completes_from_the_registry(tmp_path: Path, db: Path) -> None:
    """`model promote MODEL V --alias p` completes to the model's own alias (a picker, not free text)."""
    from cockpit.sandbox import LazyRegistry, demo_config
    from screens.widgets.command_line import complete

    config = demo_config(audit_path=tmp_path / "audit.jsonl", registry=LazyRegistry(db))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: any(m.aliases for m in app.inventory.all_models()), timeout=30)
        model = next(m for m in app.inventory.all_models() if m.aliases)
        alias = model.aliases[0][0]
        line = f"model promote {model.ref} 1 --alias {alias[:2]}"
        assert complete(line, app.registry, app.candidates, []) == f"model promote {model.ref} 1 --alias {alias}"
        assert app.candidates("name", "--alias", line.split(" "))[0] == alias


def test_money_and_thousands_sort_as_numbers() -> None:
    """A listing's $/H column sorted by `o`: $10.48 after $9.99, $17,695 after $9,999."""
    from screens.widgets.cells import sort_key

    cells = ["$10.48", "$9.99", "-", "$17,695", "$9,999", "12%", "3"]
    assert sorted(cells, key=sort_key) == ["3", "$9.99", "$10.48", "12%", "$9,999", "$17,695", "-"]
