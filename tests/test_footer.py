"""The footer at 80 columns (issue 16): `? Help` and each screen's main keys always fit, whole; the
rest are dropped from the right, never cut mid-word, and stay in `?` and the ctrl+p palette. And
the detail pane: closed below 160 columns so the table keeps its width, open from 160, and the
person's `d` remembered across screens for the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets._footer import FooterKey

from cockpit.sandbox import LazyRegistry, demo_config
from cockpit.sandbox.kube.server import KubeFake
from screens.app import CockpitApp
from screens.help import key_rows
from screens.widgets.footer import FooterItem, RankedFooter, fit
from screens.widgets.key_commands import KeyCommands
from tests.rollout_story import IN_PROGRESS, write
from tests.ui_helpers import loaded, make_app, wait_for, workers_done

MAIN_KEYS = {
    "overview": [],
    "machines": ["/ Filter", "s Start", "x Stop", "n New", "d Detail"],
    "nodes": ["/ Filter", "c Cordon", "u Uncordon", "D Drain", "d Detail"],
    "models": ["/ Filter", "P Promote", "b Roll back", "D Deploy", "d Detail"],
    "deployments": ["/ Filter", "s Scale", "r Restart", "b Roll back", "p Promote", "d Detail"],
    "costs": ["/ Filter", "b Group by", "c Compare", "d Detail"],
    "metrics": ["/ Filter", "w Window", "t Step", "p Plot", "d Detail"],
    "audit": ["/ Filter"],
    "operations": ["/ Filter", "c Stop following"],
}
"""What a person must find in each screen's footer at 80 columns, besides `: :command` and `? Help`."""


@pytest.fixture
def full_app(kube: KubeFake, db: Path, tmp_path: Path) -> Iterator[Callable[..., CockpitApp]]:
    """The demo's sources with its cluster and registry, as the snapshots have them: every screen has rows."""
    edge = KubeFake(tmp_path / "edge").start()
    from cockpit.sandbox.kube.seed import seed_edge

    seed_edge(edge)

    def build(view: str, **kw: Any) -> CockpitApp:
        audit = tmp_path / "audit.jsonl"
        config = demo_config(kube=kube, kube_edge=edge, audit_path=audit, registry=LazyRegistry(db))
        config = replace(config, sources=tuple(s for s in config.sources if s.kind != "local"))
        return make_app(audit, config=config, start_view=view, **kw)

    yield build
    edge.stop()


def footer_keys(app: CockpitApp) -> list[FooterKey]:
    return list(app.screen.query_one(RankedFooter).query(FooterKey))


def footer_line(app: CockpitApp) -> str:
    """The footer as the person reads it, each key whole on screen or not there at all."""
    keys = footer_keys(app)
    for k in keys:
        assert k.region.right <= app.size.width, f"{k.render()} runs past column {app.size.width}"
    return " ".join(str(k.render()) for k in keys)


# -- the ranking, as a pure function -----------------------------------------------------------------
def item(ident: str, key: str, desc: str, rank: int, n: int) -> FooterItem:
    return FooterItem(ident, key, desc, rank, (0, n))


def test_fit_keeps_help_last_and_stops_at_the_first_that_does_not_fit() -> None:
    items = [item("app.help", "?", "Help", 1, 9), item("a", "s", "Start", 1, 0), item("b", "F", "Force off", 4, 1),
             item("c", "x", "Stop", 2, 2), item("d", "y", "X", 3, 3)]
    assert [i.ident for i in fit(items, 200)] == ["a", "c", "d", "b", "app.help"]
    # "s Start x Stop ? Help" is 21 cells: "y X" (3 more and a space) does not fit in 24, and
    # "F Force off", ranked lower still, is not tried in its place
    assert [i.ident for i in fit(items, 24)] == ["a", "c", "app.help"]
    assert [i.ident for i in fit(items, 21)] == ["a", "c", "app.help"]
    assert [i.ident for i in fit(items, 20)] == ["a", "app.help"]
    assert [i.ident for i in fit(items, 3)] == ["app.help"]  # whatever the width


# -- every screen at 80x24 ---------------------------------------------------------------------------
@pytest.mark.parametrize("view", list(MAIN_KEYS))
async def test_every_screen_at_80_columns_shows_help_and_its_main_keys(full_app: Callable[..., CockpitApp],
                                                                        view: str) -> None:
    app = full_app(view)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        line = footer_line(app)
        assert line.endswith("? Help"), line
        for key in [*MAIN_KEYS[view], ": :command"]:
            assert key in line, (key, line)


async def test_machines_at_80_drops_the_rare_keys_which_stay_in_help_and_the_palette(
        full_app: Callable[..., CockpitApp]) -> None:
    app = full_app("machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        line = footer_line(app)
        assert line == "/ Filter s Start x Stop n New d Detail : :command r Reboot p Pause ? Help"
        rows = {bid: (keys, desc) for keys, desc, bid in key_rows(app.screen)}
        assert rows["machines.force_off"] == ("F", "Force off") and rows["machines.destroy"] == ("ctrl+d", "Destroy")
        assert rows["machines.xml"] == ("y", "XML") and rows["machines.resume"] == ("u", "Resume")
        # ctrl+p: the keys by name; choosing XML does what `y` does
        titles = [title for title, _help, _cb in KeyCommands(app.screen)._entries()]
        assert {"Force off", "Destroy", "XML", "Resume", "Start"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"XML")
        await pilot.pause(0.5)
        await pilot.press("enter")
        from screens.widgets.dialogs import TextScreen

        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
        assert "<domain" in str(app.screen.query_one("#text-body").render())


async def test_the_footer_follows_the_width_and_shows_remapped_keys(full_app: Callable[..., CockpitApp]) -> None:
    app = full_app("machines", keymap={"machines.stop": "h", "app.help": "f1"})
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        line = footer_line(app)
        assert "h Stop" in line and "x Stop" not in line and line.endswith("f1 Help")
        assert "y XML" not in line and "^d Destroy" not in line
        await pilot.resize_terminal(200, 50)
        await wait_for(pilot, lambda: "y XML" in footer_line(app))
        assert "F Force off ^d Destroy y XML f1 Help" in footer_line(app)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "y XML" not in footer_line(app))
        assert footer_line(app).endswith("p Pause f1 Help")


async def test_an_open_command_line_shows_its_own_keys_not_the_ones_it_types(
        full_app: Callable[..., CockpitApp]) -> None:
    app = full_app("machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("colon")
        await wait_for(pilot, lambda: "esc Close" in footer_line(app))
        line = footer_line(app)
        assert "tab Complete" in line and "/ Filter" not in line and "s Start" not in line


async def test_the_rollout_panel_at_80_columns(kube: KubeFake, tmp_path: Path) -> None:
    from screens.rollout import RolloutScreen

    audit = tmp_path / "audit.jsonl"
    story: list[Any] = list(IN_PROGRESS)
    write(audit, "7011bac0ffee", story, outcome=None, alive=True)
    config = demo_config(kube=kube, audit_path=audit)
    config = replace(config, sources=tuple(s for s in config.sources if s.kind != "local"))
    app = make_app(audit, config=config, start_view="operations")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        app.open_rollout("7011bac0ffee")
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen))
        await workers_done(pilot, "rollout-log")
        await pilot.pause()
        line = footer_line(app)
        assert line.endswith("? Help") and "a Abort" in line and "s Pause/resume" in line, line


# -- the detail pane ---------------------------------------------------------------------------------
def table_text(app: CockpitApp, lines: int = 3) -> str:
    table = app.screen.table  # type: ignore[attr-defined]
    return "\n".join(table.render_line(y).text for y in range(lines))


async def test_at_120_columns_the_pane_is_closed_and_the_table_has_the_width(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert not app.screen.query_one("#detail").display
        assert app.screen.table.region.width == 120  # type: ignore[attr-defined]
        text = table_text(app)
        assert "ADDRESS" in text and "HOST" in text and "10.41.0.51" in text  # the columns a 44-cell pane took
        await pilot.resize_terminal(160, 40)
        await wait_for(pilot, lambda: app.screen.query_one("#detail").display)
        assert "a100-node-01" in str(app.screen.query_one("#detail").render())


async def test_the_toggle_is_remembered_across_screens_and_widths(full_app: Callable[..., CockpitApp]) -> None:
    app = full_app("machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("d")
        assert app.screen.query_one("#detail").display
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "nodes")
        await pilot.pause()
        assert app.screen.query_one("#detail").display, "opened on Machines: open on Nodes too"
        assert "GPU" in str(app.screen.query_one("#detail").render())
        await pilot.press("d")
        assert not app.screen.query_one("#detail").display
        await pilot.resize_terminal(200, 50)  # wide enough to open by itself, but the person closed it
        await pilot.pause()
        assert not app.screen.query_one("#detail").display
        await pilot.press("2")
        await wait_for(pilot, lambda: app.current_mode == "machines")
        await pilot.pause()
        assert not app.screen.query_one("#detail").display
        assert app.screen.table.region.width == 200  # type: ignore[attr-defined]
        await pilot.press("7")  # Metrics keeps its own: closed until `d` there, the sparklines are the point
        await wait_for(pilot, lambda: app.current_mode == "metrics")
        await pilot.pause()
        assert not app.screen.query_one("#detail").display


# -- snapshots: two screens at both sizes ------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", ["machines", "deployments"])
def test_footer_snapshot(snap_compare: Any, full_app: Callable[..., CockpitApp], view: str,
                         size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.pause(0.05)

    assert snap_compare(full_app(view), terminal_size=size, run_before=run_before)

