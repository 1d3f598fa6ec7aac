"""A table with a summary line, a `/` filter and a detail pane that follows the cursor: the
shape of the Machines, Nodes and Deployments screens, written once.

The pane starts closed below DETAIL_FROM columns (at 120 it took 44 columns from the table, which
then cut `p4d.24xlarge` and `CLUSTER` it shows whole at 80) and open from there up. It sits at the
right when the terminal is wide and under the table when it is narrow. `d` (or Enter) toggles it,
and that choice holds for the rest of the session on every screen that shares it, whatever the width
(the app keeps it: CockpitApp.detail_open).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from screens.base import TableScreen
from screens.safe import safe
from screens.widgets.command_line import FilterBox
from screens.widgets.virtual_table import Column, Row, VirtualTable

WIDE = 110
"""From this width the pane sits at the right of the table, below it under the table."""
DETAIL_FROM = 160
"""From this width the pane is open until the person says otherwise: beside a table of about 116 columns."""
LAST = 99
"""The priority of a column that shows only where every other one fits."""
NO_CLUSTER = ("no Kubernetes source: add [sources.NAME] kind = \"kubernetes\" to config.toml (see README) "
              "or run cockpit --demo")


def cluster_columns(columns: Sequence[Column], clusters: int) -> tuple[Column, ...]:
    """`columns` with the one keyed `cluster` at its own priority when more than one Kubernetes
    source is configured (two `inference/embedder` rows are told apart by it alone), else last:
    with one cluster it reads the same on every row, so it shows only where everything else fits."""
    if clusters > 1:
        return tuple(columns)
    return tuple(replace(c, priority=LAST) if c.key == "cluster" else c for c in columns)


class DetailTableScreen(TableScreen):
    PREFIX: ClassVar[str] = ""
    """Widget ids are PREFIX-body, PREFIX-summary, PREFIX-table (tests and CSS name them)."""
    COLUMNS: ClassVar[Sequence[Column]] = ()
    LOADING: ClassVar[str] = "loading..."

    _settled = False
    stale_note: str | None = None
    """Set by a screen whose columns carry Prometheus figures: which of them are stale, and why."""
    _detail_wanted: bool | None = None
    """None: the pane follows the session's choice (CockpitApp.detail_open), else the width. A screen
    that sets it (Metrics: closed, the sparklines are the point) keeps a choice of its own."""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id=f"{self.PREFIX}-body", classes="table-body"):
            with Vertical(classes="table-main"):
                yield FilterBox(placeholder="filter: words that must all appear (esc clears)", id="filter")
                yield Static("", id=f"{self.PREFIX}-summary", classes="summary-line")
                yield VirtualTable(self.COLUMNS, id=f"{self.PREFIX}-table")
            yield Static("", id="detail", classes="detail-pane")

    def on_mount(self) -> None:
        self.table.empty_text = self.LOADING
        self.table.focus()
        self._layout_detail()

    def on_resize(self) -> None:
        self._layout_detail()

    def on_screen_resume(self) -> None:
        self._layout_detail()  # the pane may have been toggled on another screen meanwhile

    @property
    def table(self) -> VirtualTable:
        return self.query_one(f"#{self.PREFIX}-table", VirtualTable)

    def table_widget(self) -> VirtualTable:
        return self.table

    def place_cluster_column(self) -> None:
        """CLUSTER kept at every width when there is more than one cluster (see cluster_columns)."""
        self.table.set_columns(cluster_columns(self.COLUMNS, len(self.cockpit.hub.sources("clusters"))))

    def source_colours(self) -> dict[str, str | None]:
        """Each source's tag colour (config), for the rows' first column."""
        return {s.name: s.colour for s in self.cockpit.hub.sources()}

    # -- what each screen provides --------------------------------------------------------------
    def summary_text(self) -> str:
        return ""

    def detail_for(self, key: Hashable) -> Content | None:
        return None

    # -- rows, summary and detail -------------------------------------------------------------
    def show_rows(self, rows: list[Row], *, noun: str, configured: bool, unconfigured: str,
                  problems: Sequence[str] = (), role: str | None = None) -> None:
        """The rows, and what an empty table says: no source of this kind (and how to add one), why
        a source gave nothing (forbidden, unreachable), or that nothing matches the filter."""
        self.table.set_rows(rows)
        if not self._settled and rows:
            # sources answer one by one at start: until the first full picture the cursor stays on top
            self.table.move_to(rows[0].key)
        self._settled = self._settled or self.cockpit.inventory.loaded
        if not configured:
            self.table.empty_text = unconfigured
        elif self.cockpit.inventory.has_answered([s.name for s in self.cockpit.hub.sources(role)]):
            self.table.empty_text = "; ".join(problems) if problems else (
                f"no {noun}" + (" match the filter" if self.table.filter else ""))
        self.show_summary()
        self.show_detail()

    # -- summary and detail -------------------------------------------------------------------
    def show_summary(self) -> None:
        text = self.summary_text() + f" · showing {self.table.visible_count}"
        if self.stale_note:  # first: a line cut at the screen's edge must not hide it
            text = f"{self.stale_note} · {text}"
        if self.table.filter:
            text += f" · filter: {self.table.filter}"
        if self.table.marked:
            text += f" · {len(self.table.marked)} marked"
        # one line of fixed height: no layout pass (which would repaint the table's scrollbar too)
        self.query_one(f"#{self.PREFIX}-summary", Static).update(safe(text), layout=False)

    def filter_changed(self) -> None:
        self.show_summary()

    def on_virtual_table_cursor_moved(self, _event: VirtualTable.CursorMoved) -> None:
        self.show_detail()

    def on_virtual_table_selected(self, _event: VirtualTable.Selected) -> None:
        self.action_toggle_detail()

    def show_detail(self) -> None:
        pane = self.query_one("#detail", Static)
        if not pane.display:
            return
        key = self.table.cursor_key
        content = self.detail_for(key) if key is not None else None
        # the one way backend text reaches a detail pane: names, labels, taints, images, messages
        pane.update(safe(content) if content is not None else Content("nothing selected"))

    def detail_open(self) -> bool:
        """Whether the pane should show now: this screen's own choice, else the session's, else the width."""
        if self._detail_wanted is not None:
            return self._detail_wanted
        chosen = self.cockpit.detail_open
        return chosen if chosen is not None else self.size.width >= DETAIL_FROM

    def _layout_detail(self) -> None:
        body = self.query_one(f"#{self.PREFIX}-body")
        body.set_class(self.size.width < WIDE, "-narrow")
        self.query_one("#detail").display = self.detail_open()
        self.show_detail()

    def action_toggle_detail(self) -> None:
        shown = not self.query_one("#detail").display
        if self._detail_wanted is not None:
            self._detail_wanted = shown
        else:
            self.cockpit.detail_open = shown  # every screen that shares the pane's choice, from now on
        self._layout_detail()

    # -- selection --------------------------------------------------------------------------
    def targets(self) -> list[str]:
        """The marked rows (in table order), else the row under the cursor."""
        marked = [str(k) for k in self.table.visible_keys() if k in self.table.marked]
        if marked:
            return marked
        key = self.table.cursor_key
        return [str(key)] if key is not None else []

    def back(self) -> bool:
        if self.table.clear_marks():
            self.show_summary()
            return True
        return super().back()
