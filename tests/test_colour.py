"""Colour is never the only signal (issue 16): NO_COLOR sends no colour and tells states apart by
weight and dimness, checkbox state is in the glyph, and every theme the palette offers works."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.filter import NoColor

from screens.machines import MachinesScreen
from screens.widgets.flag import Flag
from screens.widgets.virtual_table import VirtualTable
from tests.ui_helpers import loaded, make_app


async def test_no_color_sends_no_colour_and_marks_states_by_style(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        # the terminal's own colours, then Textual's NoColor filter: no 256-colour greys go out
        assert app.current_theme.name == "cockpit-ansi"
        assert any(isinstance(f, NoColor) for f in app._filters)
        screen = app.screen
        assert isinstance(screen, MachinesScreen)
        table = screen.query_one(VirtualTable)
        running, stopped = (table.get_component_rich_style(c) for c in ("vt--good", "vt--dim"))
        bad, cursor = (table.get_component_rich_style(c) for c in ("vt--bad", "vt--cursor"))
        assert running.bold and not running.dim
        assert stopped.dim and not stopped.bold
        assert bad.reverse and cursor.reverse


async def test_without_no_color_the_configured_theme_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(tmp_path / "audit.jsonl")
    async with app.run_test(size=(80, 24)):
        assert app.current_theme.name == "cockpit-dark"
        assert not any(isinstance(f, NoColor) for f in app._filters)


async def test_every_theme_the_palette_offers_works(tmp_path: Path) -> None:
    """Textual's own themes lack $muted and the $tag-* colours; choosing `dracula` used to exit."""
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        names = sorted(app.available_themes)
        assert "dracula" in names and "cockpit-light" in names
        for name in names:
            app.theme = name
            await pilot.pause()
            assert app.is_running, name
            assert app.theme_variables["muted"], name
        assert app.return_code is None


class _Form(App[None]):
    def compose(self) -> ComposeResult:
        yield Flag("spot prices", id="off")
        yield Flag("start it", True, id="on")


async def test_a_checkbox_shows_its_state_in_the_glyph() -> None:
    app = _Form()
    async with app.run_test(size=(40, 4)) as pilot:
        off, on = app.query_one("#off", Flag), app.query_one("#on", Flag)
        assert off.render().plain.startswith("▐ ▌")
        assert on.render().plain.startswith("▐✓▌")
        off.focus()
        await pilot.press("space")
        assert off.value is True
        assert off.render().plain.startswith("▐✓▌")
