"""The command palette (ctrl+p): views, every registry command, and actions on the selection."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from screens.widgets.bars import VIEWS
from screens.widgets.key_commands import Entry, EntryProvider

if TYPE_CHECKING:
    from screens.app import CockpitApp


class CockpitCommands(EntryProvider):
    def _entries(self) -> list[Entry]:
        app: CockpitApp = self.app  # type: ignore[assignment]
        out: list[Entry] = []
        for key, view, title in VIEWS:
            out.append((f"Go to {title}", f"key {key}, or :{view}", partial(app.show_view, view)))
        for spec in app.registry.specs():
            out.append((spec.name, spec.summary + ("  (changes state)" if spec.mutating else ""),
                        partial(app.open_command_line, spec.name + " ")))
        out.append(("Refresh now", "ask every source again (ctrl+r)", app.action_refresh))
        return out
