"""How a table cell becomes text on the screen and how it sorts (VirtualTable's, and so every
table's and every command's listing)."""

from __future__ import annotations

from cockpit.sanitise import for_line


def fit_cell(text: str, width: int, align: str) -> str:
    """Every cell and heading becomes a Segment here (never markup): the one place they are
    sanitised, since cells hold names, labels and messages from backends."""
    text = for_line(text)
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if align == "right" else text.ljust(width)


def sort_key(cell: str) -> tuple[int, float, str]:
    """Numbers (and sizes like 240G, 12%) sort as numbers; everything else as text."""
    s = cell.strip().lstrip("$").replace(",", "").rstrip("%GMTs")  # $9,999 and 12% as numbers
    try:
        return (0, float(s), cell)
    except ValueError:
        return (1, 0.0, cell.lower())
