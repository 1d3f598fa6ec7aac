"""The command palette (ctrl+p): views, every registry command, and actions on the selection."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.widgets.bars import VIEWS

if TYPE_CHECKING:
    from screens.app import CockpitApp


class CockpitCommands(Provider):
    def _entries(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: CockpitApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, str, Callable[[], object]]] = []
        for key, view, title in VIEWS:
            out.append((f"Go to {title}", f"key {key}, or :{view}", partial(app.show_view, view)))
        for spec in app.registry.specs():
            out.append((spec.name, spec.summary + ("  (changes state)" if spec.mutating else ""),
                        partial(app.open_command_line, spec.name + " ")))
        out.append(("Refresh now", "ask every source again (ctrl+r)", app.action_refresh))
        return out

    async def discover(self) -> Hits:
        for title, help_text, cb in self._entries():
            yield DiscoveryHit(title, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_text)
