"""`?`: every key active on the current screen, with the binding id to remap it in config."""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen

from cockpit.keys import FOOTER_RANK, SOMETIMES
from screens.widgets.dialogs import TextScreen

_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "space": "space", "escape": "esc"}


def key_rows(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(keys, description, binding id) for each active binding, keys of one id joined. The screen's
    own come first, in the footer's ranking (what the footer had no room for is near the top, not
    after the app's and the table's), then the focused widget's, then the app's."""
    by_id: dict[str, tuple[list[str], str]] = {}
    order: dict[str, tuple[int, int, int]] = {}
    for position, (key, active) in enumerate(screen.active_bindings.items()):
        b = active.binding
        if not b.description or not b.id:
            continue  # only bindings with an id can be remapped, and only they are cockpit's
        bid = b.id
        keys, _ = by_id.setdefault(bid, ([], b.description))
        namespace = 0 if active.node is screen else 2 if active.node is screen.app else 1
        order.setdefault(bid, (namespace, FOOTER_RANK.get(bid, SOMETIMES), position))
        name = _NAMES.get(key, key)
        if name not in keys:
            keys.append(name)
    return sorted(((",".join(k), d, i) for i, (k, d) in by_id.items()), key=lambda r: order[r[2]])


class HelpScreen(TextScreen):
    def __init__(self, screen: Screen[object]) -> None:
        rows = key_rows(screen)
        width = max((len(k) for k, _, _ in rows), default=4)
        lines = [Content.from_markup('[b]Keys[/]  [$muted]remap in config.toml: \\[keys] "id" = "key"[/]'), Content("")]
        for keys, desc, bid in rows:
            lines.append(Content.from_markup("[b $accent]$k[/]  $d  [$muted]$i[/]", k=keys.ljust(width),
                                             d=desc.ljust(14), i=bid))
        lines += [Content(""),
                  Content(": opens the command line: the same commands as cockpit --script (tab completes)"),
                  Content("ctrl+p opens the command palette: every key above by its name, views, commands"),
                  Content("q or ctrl+q quits · esc goes back"),
                  Content("tab / shift+tab move between panes")]
        super().__init__("help", Content("\n").join(lines))
