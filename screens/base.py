"""What every view shares: the top bar, the status bar, the `:` command line and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from screens.widgets.bars import StatusBar, TopBar
from screens.widgets.command_line import CommandLine, CommandSuggester

if TYPE_CHECKING:
    from screens.app import CockpitApp


class CockpitScreen(Screen[None]):
    VIEW: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("colon", "command_line", ":command", id="app.command_line"),
    ]

    @property
    def cockpit(self) -> CockpitApp:
        from screens.app import CockpitApp

        assert isinstance(self.app, CockpitApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield TopBar(self.VIEW)
        yield from self.compose_body()
        yield CommandLine(placeholder="command (tab completes, esc closes) e.g. vm start rack-a/node-01",
                          suggester=CommandSuggester(self.cockpit.registry, self.cockpit.targets,
                                                     list(self.cockpit.view_aliases)),
                          id="command-line")
        yield StatusBar()
        yield Footer(compact=True, show_command_palette=False)

    def compose_body(self) -> ComposeResult:
        yield Static("")

    def on_screen_resume(self) -> None:
        self.refresh_status()
        self.inventory_changed()

    def refresh_status(self) -> None:
        hub = self.cockpit.hub
        ro = {s.name for s in hub.sources() if s.read_only}
        self.query_one(StatusBar).show(hub.sources(), hub.health_all(), hub.config.read_only, ro)

    def inventory_changed(self) -> None:
        """Called when the app's inventory changed; screens that show machines re-render."""

    def audit_changed(self) -> None:
        """Called after a mutation was written to the audit log."""

    # -- the command line --------------------------------------------------------------------
    def action_command_line(self, prefill: str = "") -> None:
        self.query_one(CommandLine).open(prefill)

    def on_command_line_closed(self, _event: CommandLine.Closed) -> None:
        self._close_command_line()

    def on_input_submitted(self, event: CommandLine.Submitted) -> None:
        if isinstance(event.input, CommandLine):
            text = event.value.strip()
            self._close_command_line()
            if text:
                self.cockpit.run_command_line(text)

    def _close_command_line(self) -> None:
        line = self.query_one(CommandLine)
        line.close()
        line.value = ""
        self.focus_main()

    def focus_main(self) -> None:
        self.focus_next()

    def back(self) -> bool:
        """Esc: undo this screen's own state first (marks, filter); False lets the app go back."""
        return False
