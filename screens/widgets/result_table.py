"""What a `:` command that lists things shows: its table as a real table, the one the screens use
(VirtualTable: sorted by `o`/`O`, filtered by `/`, scrolled with the table keys), not the script's
text table wrapped in a 70-column box. The cells are the command's own (the same as `-o text`),
so a column that says `4×A100` sorts and filters as it reads."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.commands.registry import Table
from screens.safe import safe
from screens.widgets.command_line import FilterBox
from screens.widgets.virtual_table import Column, Row, VirtualTable

NUMERIC = frozenset("0123456789.,$%-+×GMKTis/")
"""Characters of a cell that reads as a figure (`$3.56`, `240G`, `87%`, `2/2`): its column aligns right."""


def columns_for(table: Table) -> list[Column]:
    """One column per heading, right-aligned where every non-empty cell is a figure, as wide as
    its widest cell allows (VirtualTable hides the last columns first when the terminal is narrow)."""
    out = []
    for i, label in enumerate(table.columns):
        cells = [row[i] for row in table.rows if i < len(row) and row[i] not in ("", "-")]
        figures = bool(cells) and all(c[:1].isdigit() or c[:1] == "$" for c in cells) and all(
            set(c) <= NUMERIC for c in cells)
        # past the first, a long cell is cut (…) rather than a whole column left out at 80 columns
        # (the heading keeps a cell for the sort arrow; the last column takes what room is left)
        out.append(Column(str(i), label, min_width=max(3, len(label) + 1), max_width=48 if i == 0 else 22,
                          grow=i == len(table.columns) - 1, align="right" if figures else "left", priority=i))
    return out


class ResultTableScreen(ModalScreen[None]):
    """A command's table: `/` filters, `o` sorts by the next column, `O` reverses, Esc clears the
    filter and then closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="result.filter"),
        Binding("escape,q", "close", "Close", id="result.close"),
    ]

    def __init__(self, title: str, table: Table, note: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.result = table
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="text result"):
            yield Static(safe(Content.from_markup("[b]$t[/]  [$muted]/ filters · o sorts · O reverses · esc closes[/]",
                                                  t=self.title_text)), id="dialog-title")
            yield Static("", id="result-summary")
            yield FilterBox(placeholder="filter: words that must all appear in the row", id="result-filter")
            yield VirtualTable(columns_for(self.result), markable=False, id="result-table")
            if self.note:
                yield Static(safe(Content.from_markup("[$error]$n[/]", n=self.note)), id="result-note")

    def on_mount(self) -> None:
        table = self.query_one(VirtualTable)
        width = len(self.result.columns)
        table.set_rows([Row(i, tuple((list(row) + [""] * width)[:width])) for i, row in enumerate(self.result.rows)])
        table.focus()
        self._summarise()

    def _summarise(self) -> None:
        table = self.query_one(VirtualTable)
        shown, total = table.visible_count, table.row_count
        text = fmt.plural(total, "row") + (f" · showing {shown} matching {table.filter!r}" if table.filter else "")
        self.query_one("#result-summary", Static).update(safe(Content.from_markup("[$muted]$s[/]", s=text)))

    def action_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.open(box.value)

    def on_input_changed(self, event: FilterBox.Changed) -> None:
        if isinstance(event.input, FilterBox):
            self.query_one(VirtualTable).set_filter(event.value)
            self._summarise()

    def on_input_submitted(self, event: FilterBox.Submitted) -> None:
        if isinstance(event.input, FilterBox):
            if not event.value:
                event.input.close()
            self.set_focus(self.query_one(VirtualTable))  # now, not deferred: `o` typed next sorts

    def on_filter_box_cleared(self, _event: FilterBox.Cleared) -> None:
        self._clear_filter()

    def _clear_filter(self) -> None:
        box = self.query_one(FilterBox)
        box.value = ""
        box.close()
        self.query_one(VirtualTable).set_filter("")
        self.set_focus(self.query_one(VirtualTable))
        self._summarise()

    def action_close(self) -> None:
        if self.query_one(VirtualTable).filter or self.query_one(FilterBox).has_class("open"):
            self._clear_filter()
            return
        self.dismiss(None)
