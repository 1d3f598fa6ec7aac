"""A block of Overview lines laid out for the width it has: a line either stays one line, cut with
`…` at the edge (a healthy source, a summary), or wraps with its continuation indented under its
text (a problem, whose reason is what a person needs to read). Textual's own wrapping starts a
continued line at column 0, which lost the indent that said whose line it was.

`show` compares the new lines with those shown and does nothing when they are the same, so a poll
that changed nothing repaints nothing (the budget: 0 B/s with nothing changing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from screens.safe import safe


@dataclass(frozen=True, slots=True)
class Line:
    content: Content
    indent: int = 0
    """Where a wrapped line's continuation starts (the column of its text after the mark)."""
    wrap: bool = False
    """False: one line, cut with `…`; True: wrapped, continuations at `indent`."""

    def key(self) -> tuple[object, ...]:
        """What decides whether it looks the same (Content's == compares the text only)."""
        return self.content.plain, tuple(self.content.spans), self.indent, self.wrap


def lay_out(lines: Sequence[Line], width: int) -> list[Content]:
    """The lines as rows of at most `width` cells."""
    width = max(width, 8)
    out: list[Content] = []
    for line in lines:
        c = line.content
        if c.cell_length <= width:
            out.append(c)
        elif not line.wrap:
            out.append(c.truncate(width, ellipsis=True))
        else:
            indent = min(line.indent, width // 2)
            pieces = c.wrap(width - indent)
            out.append(pieces[0])
            out.extend(Content(" " * indent) + p for p in pieces[1:])
    return out


class LinesView(Widget):
    DEFAULT_CSS = """
    LinesView { height: auto; width: 1fr; margin: 0 0 1 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: tuple[Line, ...] = ()
        self._keys: tuple[tuple[object, ...], ...] = ()
        self.version = 0
        """How many times what it shows changed (a test reads it: an unchanged poll leaves it)."""

    @property
    def lines(self) -> tuple[Line, ...]:
        return self._lines

    def show(self, lines: Sequence[Line]) -> bool:
        """Show these lines (sanitised, one row each before layout); False when nothing changed."""
        shown = tuple(Line(safe(ln.content, line=True), ln.indent, ln.wrap) for ln in lines)
        keys = tuple(ln.key() for ln in shown)
        if keys == self._keys:
            return False
        self._lines, self._keys = shown, keys
        self.version += 1
        self.display = bool(shown)  # an empty block takes no room, not even its margin
        self.refresh(layout=True)
        return True

    def text(self) -> str:
        """Every line in full, as plain text (what tests and a copy would read)."""
        return "\n".join(ln.content.plain for ln in self._lines)

    def render(self) -> Content:
        return Content("\n").join(lay_out(self._lines, self.content_region.width or self.size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(lay_out(self._lines, width))
