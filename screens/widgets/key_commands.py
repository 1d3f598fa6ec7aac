"""ctrl+p finds the current screen's keys by name ("Force off", "Destroy", "XML"): the footer shows
only the best ranked that fit the width (screens/widgets/footer.py), and nothing it leaves out
should need `?` to be found. Choosing one runs the same action as its key, with the same checks
(a read-only source's actions are not offered, as they are not shown)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

SKIP = frozenset({"app.back", "app.quit", "app.quit_asking", "table.up", "table.down", "table.page_up",
                  "table.page_down", "rollout.up", "rollout.down"})
"""Keys that mean nothing from a palette (moving a cursor, going back), or that the palette already
offers (views: the app's provider; quit: Textual's)."""


Entry = tuple[str, str, Callable[[], object]]
"""A palette line: its title, its help line, what choosing it does."""


class EntryProvider(Provider):
    """A palette provider that lists its entries (`_entries`) and matches the query on their titles."""

    def _entries(self) -> list[Entry]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for title, help_text, cb in self._entries():
            yield DiscoveryHit(title, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, cb in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), cb, help=help_text)


class KeyCommands(EntryProvider):
    def _entries(self) -> list[Entry]:
        screen = self.screen
        out: list[Entry] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            if (not b.id or not b.description or b.id in seen or b.id in SKIP or b.id.startswith("view.")
                    or not active.enabled):
                continue
            seen.add(b.id)
            out.append((b.description, f"key {self.app.get_key_display(b)} on this screen ({b.id})",
                        partial(self.app.run_action, b.action, active.node)))
        return out
