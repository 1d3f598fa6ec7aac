"""The footer: the best ranked bindings that fit the width, `? Help` always last.

Textual's Footer lays every shown binding out in one row and lets the terminal's edge cut the rest
mid-word: at 80 columns Machines ended `F Force off ^d Dest`, without `n` New, `d` Detail or
`? Help`. This one ranks the bindings (cockpit.keys.FOOTER_RANK), takes the best ranked while
whole ones fit, and works it out again when the width or the bindings change. What it leaves out
is listed by `?` (screens/help.py) and found by name in the ctrl+p palette
(screens/widgets/key_commands.py). Keys are shown as `[keys]` remapped them: the rank belongs to
the binding id, the key shown is the binding's key now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # Footer's own key widget: its theme styles, its click

from cockpit.keys import FOOTER_RANK, SOMETIMES

HELP = "app.help"
TYPED = {"slash": "/"}
"""Keys whose character Textual's key_to_character does not know (it gives None for `slash`)."""


@dataclass(frozen=True)
class FooterItem:
    """One binding as the footer shows it (one per binding id, whichever of its keys comes first)."""

    ident: str
    """The binding id (its action where it has none)."""
    key: str
    """The key as shown, after `[keys]` remapping: `s`, `^d`, `?`."""
    description: str
    rank: int
    order: tuple[int, int]
    """Where it comes within its rank: the screen's own bindings, the focused widget's, the app's;
    each in the order its BINDINGS list gives."""
    enabled: bool = True
    binding_key: str = ""
    """The key a click on it presses."""
    action: str = ""
    tooltip: str = ""

    @property
    def width(self) -> int:
        """Cells in the compact footer: the key, a space, the description."""
        return cell_len(self.key) + (1 + cell_len(self.description) if self.description else 0)


def footer_items(screen: Screen[Any]) -> list[FooterItem]:
    """The bindings of `screen` that ask to be shown (show=True), whether or not they will fit."""
    items: dict[str, FooterItem] = {}
    focused = screen.focused
    for position, (key, active) in enumerate(screen.active_bindings.items()):
        b = active.binding
        if not b.show:
            continue
        if (focused is not None and active.node is not focused
                and focused.check_consume_key(key, key_to_character(key) or TYPED.get(key))):
            continue  # the focused input takes it as text: `/` in the command line types a slash
        ident = b.id or b.action
        if ident in items:
            continue  # another key of the same binding ("escape,n"): the first one speaks for it
        namespace = 0 if active.node is screen else 2 if active.node is screen.app else 1
        items[ident] = FooterItem(ident, screen.app.get_key_display(b), b.description,
                                  FOOTER_RANK.get(b.id or "", SOMETIMES), (namespace, position), active.enabled,
                                  b.key, b.action, active.tooltip or b.tooltip)
    return list(items.values())


def fit(items: Sequence[FooterItem], width: int) -> list[FooterItem]:
    """The best ranked items that fit in `width` cells, one cell between two, in rank order, `? Help`
    last and always. It stops at the first item that does not fit: a lower ranked binding never
    takes the place of a better one that was too long, so what shows is always a prefix of the
    ranking and a wider terminal only adds to the right."""
    pinned = [i for i in items if i.ident == HELP]
    used = sum(i.width for i in pinned) + max(len(pinned) - 1, 0)
    chosen: list[FooterItem] = []
    for item in sorted((i for i in items if i.ident != HELP), key=lambda i: (i.rank, i.order)):
        need = item.width + (1 if chosen or pinned else 0)
        if used + need > width:
            break
        chosen.append(item)
        used += need
    return chosen + pinned


def footer_text(items: Sequence[FooterItem]) -> str:
    """The footer as a line of text (what tests and the screen reader see)."""
    return " ".join(f"{i.key} {i.description}" if i.description else i.key for i in items)


class RankedFooter(Footer):
    """Textual's compact Footer, showing only what fits (see the module's docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True, show_command_palette=False)
        self.shown: tuple[FooterItem, ...] = ()
        """What the footer shows now."""

    def _fitted(self) -> tuple[FooterItem, ...]:
        width = self.size.width or self.app.size.width  # before the first layout: the footer spans the screen
        return tuple(fit(footer_items(self.screen), width))

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self.shown = self._fitted()
        for item in self.shown:
            yield FooterKey(item.binding_key, item.key, item.description, item.action, disabled=not item.enabled,
                            tooltip=item.tooltip).data_bind(compact=Footer.compact)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """As Textual's Footer, but a change that leaves the same keys showing repaints nothing
        (a cursor move re-checks every action; an unchanged footer must cost no output)."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and self._fitted() != self.shown:
            self.call_after_refresh(self.recompose)

    def on_resize(self, _event: Resize) -> None:
        if self._bindings_ready and self._fitted() != self.shown:
            self.call_after_refresh(self.recompose)
