"""The forms' checkbox: its state is in the glyph, not only in a colour.

Textual's Checkbox draws `▐X▌` for both states and tells them apart by colour alone; in the dark
theme unchecked was colour 16 on 17, and under NO_COLOR the two are identical. Here an unchecked box
is `▐ ▌` and a checked one `▐✓▌`, in every theme and without colour.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Checkbox


class Flag(Checkbox, inherit_bindings=False):
    """Space toggles; Enter is left to the form (it plans or compares from any field)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_button", "Toggle", show=False)]

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button
