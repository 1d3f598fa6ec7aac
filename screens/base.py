"""What every view shares: the top bar, the status bar, the `:` command line and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from cockpit.providers import provider
from screens.safe import safe
from screens.widgets.bars import StatusBar, TopBar
from screens.widgets.command_line import CommandLine, CommandSuggester, FilterBox
from screens.widgets.footer import RankedFooter
from screens.widgets.key_commands import KeyCommands
from screens.widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from screens.app import CockpitApp


class CockpitScreen(Screen[None]):
    VIEW: ClassVar[str] = ""
    _error_for: str | None = None
    """The line the command line's error is about (editing it hides the error)."""
    COMMANDS = Screen.COMMANDS | {KeyCommands}  # ctrl+p finds the keys the footer had no room for

    @property
    def cockpit(self) -> CockpitApp:
        from screens.app import CockpitApp

        assert isinstance(self.app, CockpitApp)
        return self.app

    def able(self, role: str, capability: str) -> set[str]:
        """The sources of a role a person may change this way now: not read-only, and of a kind
        whose provider descriptor has the capability (an action none of them can is not offered)."""
        hub = self.cockpit.hub
        return {s.name for s in hub.sources(role)
                if not hub.is_read_only(s.name) and (kind := provider(s.kind)) is not None and kind.can(capability)}

    def compose(self) -> ComposeResult:
        yield TopBar(self.VIEW)
        yield from self.compose_body()
        yield CommandLine(placeholder="command (tab completes, esc closes) e.g. vm start rack-a/node-01",
                          suggester=CommandSuggester(self.cockpit.registry, self.cockpit.candidates,
                                                     list(self.cockpit.view_aliases)),
                          id="command-line", history=self.cockpit.command_history)
        yield Static("", id="command-error")  # why the line just run was refused, until it is edited
        yield StatusBar()
        yield RankedFooter()  # the best ranked keys that fit, `? Help` always

    def compose_body(self) -> ComposeResult:
        yield Static("")

    def on_screen_resume(self) -> None:
        self.refresh_status()
        self.inventory_changed()

    def refresh_status(self) -> None:
        hub = self.cockpit.hub
        ro = {s.name for s in hub.sources() if s.read_only}
        running = len(self.cockpit.journal.running())
        self.query_one(StatusBar).show(hub.sources(), hub.health_all(), hub.config.read_only, ro,
                                       ops=(running, len(self.cockpit.unfinished)))

    def inventory_changed(self) -> None:
        """Called when the app's inventory changed; screens that show machines re-render."""

    def audit_changed(self) -> None:
        """Called after a mutation was written to the audit log."""

    def operations_changed(self) -> None:
        """Called when one of this app's operations moved (applied, a step, ended)."""

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
                self.cockpit.command_history.add(text)
                self.cockpit.run_command_line(text, on_failed=lambda message: self.command_failed(text, message))

    def command_failed(self, text: str, message: str) -> None:
        """A line that did not parse, was refused or failed comes back, as typed, with the error
        under it, to be fixed rather than typed again; if the person has moved on (another screen,
        the line reopened), the error is a notice instead."""
        line = self.query_one(CommandLine)
        if self.app.screen is not self or line.has_class("open"):
            self.notify(message, title="command failed", severity="error", timeout=8)
            return
        line.open(text)
        self._error_for = text
        error = self.query_one("#command-error", Static)
        error.update(safe(Content.from_markup("[$error]$m[/]", m=message)))
        error.add_class("shown")

    def on_input_changed(self, event: CommandLine.Changed) -> None:
        # the line is being fixed (a Changed that is no longer the line's value is one from before
        # the error: the line's clearing as it closed on Enter)
        if isinstance(event.input, CommandLine) and event.value == event.input.value != self._error_for:
            self._hide_command_error()

    def _hide_command_error(self) -> None:
        self._error_for = None
        self.query_one("#command-error", Static).remove_class("shown")

    def _close_command_line(self) -> None:
        line = self.query_one(CommandLine)
        line.close()
        line.value = ""
        self._hide_command_error()
        self.focus_main()

    def focus_main(self) -> None:
        self.focus_next()

    def back(self) -> bool:
        """Esc: undo this screen's own state first (marks, filter); False lets the app go back."""
        return False


class TableScreen(CockpitScreen):
    """A screen built around one VirtualTable with a `/` filter box (Machines, Audit, ...)."""

    def table_widget(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def filter_changed(self) -> None:
        """Hook: the filter text changed (screens update their summary line)."""

    def focus_main(self) -> None:
        self.set_focus(self.table_widget())  # now: a key typed right after lands in the table

    def action_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.open(box.value)

    def on_input_changed(self, event: FilterBox.Changed) -> None:
        if isinstance(event.input, FilterBox):
            self.table_widget().set_filter(event.value)
            self.filter_changed()

    def on_input_submitted(self, event: FilterBox.Submitted) -> None:
        # CommandLine submissions are CockpitScreen's: Textual calls the handler of every class in
        # the MRO, so this one only looks at the filter box and never calls super().
        if isinstance(event.input, FilterBox):
            if not event.value:
                event.input.close()
            self.set_focus(self.table_widget())

    def on_filter_box_cleared(self, _event: FilterBox.Cleared) -> None:
        self.clear_filter()

    def clear_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.value = ""
        box.close()
        self.table_widget().set_filter("")
        self.set_focus(self.table_widget())  # now: a key typed right after lands in the table
        self.filter_changed()

    def back(self) -> bool:
        if self.table_widget().filter:
            self.clear_filter()
            return True
        return False
