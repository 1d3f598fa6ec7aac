"""A table that keeps rows in memory and renders only the lines on screen.

Textual's DataTable builds per-cell renderables and costs seconds for 100k rows; inventories
here can be that large. This widget holds plain string cells, filters on one pre-lowered string
per row, and renders a line only when it is visible (ScrollView + render_line), with a cache of
rendered lines that a single-row update invalidates for that row alone.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from cockpit.sanitise import for_line
from screens.widgets.cells import fit_cell, sort_key

StyleFor = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    min_width: int = 4
    max_width: int = 40
    grow: bool = False
    align: str = "left"
    priority: int = 0
    """Lower shows first; when the table is too narrow the highest-priority numbers go."""
    style: StyleFor | None = None
    """Cell value -> a component class of this widget (e.g. `vt--good`), for state colours."""
    width: int = 0
    """The width the table plans this column at when it chooses which columns fit, so that the
    terminal's width alone decides whether it shows, never a value; it widens into room left. 0: plan
    at the widest value measured when the rows are set (a poll that only changes values keeps the plan)."""


def tag_style(colour: str | None) -> str | None:
    """The component class that colours a row's first column in its source's tag colour."""
    return f"vt--tag-{colour}" if colour else None


@dataclass(frozen=True, slots=True)
class Row:
    key: Hashable
    cells: tuple[str, ...]
    style: str | None = None
    """A component class for the whole row's first column (per-source colour tags)."""
    cell_styles: tuple[str | None, ...] = ()
    """Per-cell component classes that override the column's (a metric past its threshold)."""


class VirtualTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "vt--header", "vt--cursor", "vt--marked", "vt--good", "vt--warn", "vt--bad", "vt--dim",
        "vt--tag-red", "vt--tag-amber", "vt--tag-green", "vt--tag-blue", "vt--tag-magenta", "vt--tag-cyan",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "edge(0)", "Top", show=False, id="table.top"),
        Binding("end,G", "edge(1)", "Bottom", show=False, id="table.bottom"),
        Binding("space", "mark", "Mark", id="table.mark"),
        Binding("ctrl+a", "mark_all", "Mark all", show=False, id="table.mark_all"),
        Binding("o", "sort", "Sort", show=False, id="table.sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False, id="table.sort_reverse"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    class CursorMoved(Message):
        def __init__(self, table: VirtualTable, key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Selected(Message):
        def __init__(self, table: VirtualTable, key: Hashable) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(self, columns: Sequence[Column], *, markable: bool = True, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.markable = markable
        self._rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self._hay: list[str] = []
        self._view: list[int] = []
        self._filter = ""
        self._sort: int | None = None
        self._reverse = False
        self.marked: set[Hashable] = set()
        self._widths: dict[int, int] = {}
        self._layout: list[tuple[int, int]] = []  # (column index, width) of the shown columns
        self._floor: dict[int, int] = {}  # column index -> width: the plan that holds until _room changes
        self._room = 0  # the cells the plan was made for
        self._bar = 0  # the vertical scrollbar's width when the rows overflow
        self._cache: dict[tuple[int, bool, bool], Strip] = {}
        self.empty_text = "no rows"

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Other headings for as many cells: a screen whose grouping changes what a column holds
        (the Costs screen's GPU and PEAK where a machine's SOURCE and STATE were)."""
        columns = tuple(columns)
        if columns == self.columns:
            return
        assert len(columns) == len(self.columns), "a table keeps its number of cells"
        self.columns = columns
        self._cache.clear()
        self._measure(fresh=True)
        self.refresh()

    # -- data --------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; the cursor stays on the same key when it still exists."""
        if len(rows) == len(self._rows) and all(a.key == b.key for a, b in zip(rows, self._rows, strict=True)):
            self._patch_rows(rows)
            return
        keep = self.cursor_key
        self._rows = list(rows)
        self._index = {r.key: i for i, r in enumerate(self._rows)}
        self._hay = ["\t".join(r.cells).lower() for r in self._rows]
        self.marked &= set(self._index)
        self._measure(fresh=True)
        self._refilter(keep)

    def _patch_rows(self, rows: Sequence[Row]) -> None:
        """Same keys in the same order (a poll): repaint only the lines whose cells changed, so an
        idle screen writes 0 bytes and a live one writes only what moved."""
        changed = [i for i, (new, old) in enumerate(zip(rows, self._rows, strict=True)) if new != old]
        if not changed:
            return
        for i in changed:
            self._rows[i] = rows[i]
            self._hay[i] = "\t".join(rows[i].cells).lower()
        old_layout = list(self._layout)
        self._measure()
        words = self._filter.split()
        shown = set(self._view) if words else None
        moved = shown is not None and any((i in shown) != all(w in self._hay[i] for w in words) for i in changed)
        if self._layout != old_layout or moved or self._sort is not None:
            self._refilter(self.cursor_key)  # widths, membership or order may have moved
            return
        changed_set = set(changed)
        self._cache = {k: v for k, v in self._cache.items() if k[0] not in changed_set}
        top = int(self.scroll_y)
        position = {i: p for p, i in enumerate(self._view)} if shown is not None else None
        for i in changed:  # unsorted: a row keeps its place (its index, or its place among those shown)
            pos = i if position is None else position.get(i)
            if pos is not None and top <= pos < top + self.size.height:
                self.refresh_line(pos + 1)

    def update_row(self, row: Row) -> None:
        """Change one row in place and repaint only its line (when visible and still matching)."""
        i = self._index.get(row.key)
        if i is None:
            self.set_rows([*self._rows, row])
            return
        self._rows[i] = row
        self._hay[i] = "\t".join(row.cells).lower()
        self._cache = {k: v for k, v in self._cache.items() if k[0] != i}
        try:
            pos = self._view.index(i)
        except ValueError:
            return
        self.refresh_line(pos + 1)

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def visible_count(self) -> int:
        return len(self._view)

    @property
    def cursor_key(self) -> Hashable | None:
        if 0 <= self.cursor < len(self._view):
            return self._rows[self._view[self.cursor]].key
        return None

    def visible_keys(self) -> list[Hashable]:
        return [self._rows[i].key for i in self._view]

    def row(self, key: Hashable) -> Row | None:
        i = self._index.get(key)
        return None if i is None else self._rows[i]

    def move_to(self, key: Hashable) -> None:
        i = self._index.get(key)
        if i is not None and i in self._view:
            self.cursor = self._view.index(i)

    # -- filter and sort ---------------------------------------------------------------------
    @property
    def filter(self) -> str:
        return self._filter

    def set_filter(self, text: str) -> None:
        """Every word must appear (case-insensitive) somewhere in the row."""
        text = text.strip().lower()
        if text == self._filter:
            return
        narrowing = bool(self._filter) and text.startswith(self._filter) and self._sort is None
        self._filter = text
        self._refilter(self.cursor_key, narrowing=narrowing)

    def _refilter(self, keep: Hashable | None, narrowing: bool = False) -> None:
        words = self._filter.split()
        hay = self._hay
        if not words:
            view = list(range(len(self._rows)))
        else:
            base = self._view if narrowing else range(len(hay))
            if len(words) == 1:
                w = words[0]
                view = [i for i in base if w in hay[i]]
            else:
                view = [i for i in base if all(w in hay[i] for w in words)]
        if self._sort is not None:
            col = self._sort
            view.sort(key=lambda i: sort_key(self._rows[i].cells[col]), reverse=self._reverse)
        self._view = view
        self._cache.clear()
        bar = self.styles.scrollbar_size_vertical if len(view) + 1 > self.size.height > 0 else 0
        if bar != self._bar:
            self._relayout()
        self.virtual_size = Size(self._total_width(), len(view) + 1)
        pos = 0
        if keep is not None and keep in self._index:
            try:
                pos = view.index(self._index[keep])
            except ValueError:
                pos = min(self.cursor, max(0, len(view) - 1))
        self.cursor = min(pos, max(0, len(view) - 1))
        self.refresh()

    def action_sort(self) -> None:
        shown = [c for c, _ in self._layout]
        if not shown:
            return
        nxt = shown[(shown.index(self._sort) + 1) % len(shown)] if self._sort in shown else shown[0]
        self._sort = nxt
        self._refilter(self.cursor_key)

    def action_sort_reverse(self) -> None:
        self._reverse = not self._reverse
        if self._sort is None:
            self._sort = self._layout[0][0] if self._layout else None
        self._refilter(self.cursor_key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.markable or action not in ("mark", "mark_all")

    # -- cursor and marks --------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        if old != new:
            self._cache = {k: v for k, v in self._cache.items() if k[0] not in self._rows_at(old, new)}
            for pos in (old, new):
                self.refresh_line(pos + 1)
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, self.cursor_key))

    def _rows_at(self, *positions: int) -> set[int]:
        return {self._view[p] for p in positions if 0 <= p < len(self._view)}

    def _scroll_to_cursor(self) -> None:
        body = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        if self._view:
            self.cursor = max(0, min(len(self._view) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        if self._view:
            self.cursor = len(self._view) - 1 if end else 0

    def action_mark(self) -> None:
        key = self.cursor_key
        if key is None or not self.markable:
            return
        self.marked.symmetric_difference_update({key})
        self._cache = {k: v for k, v in self._cache.items() if k[0] != self._view[self.cursor]}
        self.refresh_line(self.cursor + 1)
        self.action_cursor(1)

    def action_mark_all(self) -> None:
        if not self.markable:
            return
        keys = set(self.visible_keys())
        self.marked = set() if keys <= self.marked else self.marked | keys
        self._cache.clear()
        self.refresh()

    def clear_marks(self) -> bool:
        if not self.marked:
            return False
        self.marked.clear()
        self._cache.clear()
        self.refresh()
        return True

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int) and y >= 1:
            pos = int(self.scroll_y) + y - 1
            if pos < len(self._view):
                self.cursor = pos

    def key_enter(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    # -- layout ------------------------------------------------------------------------------
    def _measure(self, sample: int = 2000, *, fresh: bool = False) -> None:
        """Column widths from the header and a sample of rows: O(sample), not O(rows): what each
        column would like. `fresh`: the rows or columns are others, so the plan is made again."""
        rows = self._rows[:sample]
        for ci, col in enumerate(self.columns):
            width = max([len(col.label), *(len(r.cells[ci]) for r in rows)]) if rows else len(col.label)
            self._widths[ci] = max(col.min_width, min(col.max_width, width))
        self._relayout(fresh)

    def _relayout(self, fresh: bool = False) -> None:
        """Which columns show, and how wide. A column with a declared `width` is planned at it (the
        terminal's width alone then decides whether it shows); one without, at its measured width.
        Columns are taken in priority order while their plans fit; the room left widens them toward
        their measured widths, in priority order, and what is still left goes to the `grow` columns.

        The plan is made again only when it must (`fresh`: other rows or other columns; or the room
        changed). In between, a poll that changed some cells keeps the columns and their widths as
        floors: a value that outgrew its column widens it only into room nobody uses, else it is cut
        with `…` inside its column. So a value that grows (a node cordoned, a rollout `progressing`)
        neither drops a column nor narrows one."""
        # a vertical scrollbar takes the right-most column(s): lay out beside it, not under it (the
        # newest point of a sparkline in the last column must not be hidden)
        bar = self.styles.scrollbar_size_vertical
        self._bar = bar if len(self._view) + 1 > self.size.height > 0 else 0
        avail = max(10, self.size.width - 2 - self._bar)
        cols = self.columns
        if fresh or avail != self._room or not self._floor:
            self._room = avail
            plans = [col.width or self._widths.get(ci, col.min_width) for ci, col in enumerate(cols)]
            # a table whose columns all declare a width plans beside its scrollbar even before it has
            # one: the number of rows must not decide which columns show either
            planned = all(col.width for col in cols)
            widths = _choose(cols, plans, max(10, self.size.width - 2 - bar) if planned else avail)
        else:
            widths = dict(self._floor)
        extra = avail - sum(widths.values()) - max(0, len(widths) - 1)
        for ci in sorted(widths, key=lambda c: (cols[c].priority, c)):
            if extra <= 0:
                break
            more = min(extra, self._widths.get(ci, 0) - widths[ci])
            if more > 0:
                widths[ci] += more
                extra -= more
        self._floor = widths
        chosen = sorted(widths)
        growers = [ci for ci in chosen if cols[ci].grow]
        layout = []
        for ci in chosen:
            w = widths[ci]
            if growers and ci in growers:
                share = max(0, extra) // len(growers)
                if ci == growers[-1]:
                    share = max(0, extra) - share * (len(growers) - 1)
                w += share
            layout.append((ci, w))
        if layout != self._layout:
            self._layout = layout
            self._cache.clear()

    def _total_width(self) -> int:
        return 2 + sum(w for _, w in self._layout) + max(0, len(self._layout) - 1)

    def on_resize(self) -> None:
        self._relayout()
        self.virtual_size = Size(self._total_width(), len(self._view) + 1)
        self._scroll_to_cursor()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- rendering ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            strip = self._header()
        else:
            pos = int(self.scroll_y) + y - 1
            if pos >= len(self._view):
                if pos == 0 and not self._view:
                    text = f"  {for_line(self.empty_text)}"  # may quote a source's error
                    return Strip([Segment(text, base + self.get_component_rich_style("vt--dim"))]).crop_extend(
                        0, width, base)
                return Strip.blank(width, base)
            strip = self._line(pos)
        scroll_x = int(self.scroll_x)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self) -> Strip:
        style = self.rich_style + self.get_component_rich_style("vt--header")
        segs = [Segment("  ", style)]
        for n, (ci, w) in enumerate(self._layout):
            col = self.columns[ci]
            label = col.label + ("↓" if self._sort == ci and self._reverse else "↑" if self._sort == ci else "")
            segs.append(Segment(fit_cell(label, w, col.align) + (" " if n < len(self._layout) - 1 else ""), style))
        return Strip(segs)

    def _line(self, pos: int) -> Strip:
        i = self._view[pos]
        row = self._rows[i]
        is_cursor = pos == self.cursor
        marked = row.key in self.marked
        key = (i, is_cursor, marked)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.rich_style
        if marked:
            base = base + self.get_component_rich_style("vt--marked")
        if is_cursor:
            base = base + self.get_component_rich_style("vt--cursor")
        segs = [Segment("▌ " if marked else "  ", base)]
        for n, (ci, w) in enumerate(self._layout):
            col = self.columns[ci]
            value = row.cells[ci]
            style = base
            cls = row.style if n == 0 and row.style else (
                row.cell_styles[ci] if ci < len(row.cell_styles) and row.cell_styles[ci]
                else col.style(value) if col.style else None)
            if cls and not is_cursor:
                style = base + self.get_component_rich_style(cls)
            segs.append(Segment(fit_cell(value, w, col.align), style))
            if n < len(self._layout) - 1:
                segs.append(Segment(" ", base))
        strip = Strip(segs).simplify()  # one style run per colour, not per cell: fewer bytes on the wire
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[key] = strip
        return strip


def _choose(columns: Sequence[Column], plans: Sequence[int], avail: int) -> dict[int, int]:
    """The columns that show in `avail` cells, by priority, each at its planned width (a declared
    one never under its heading's length). A measured column that does not fit whole but has room
    for its `min_width` shows narrower; any other that does not fit is left out."""
    order = sorted(range(len(columns)), key=lambda ci: (columns[ci].priority, ci))
    widths: dict[int, int] = {}
    used = 0
    for ci in order:
        col = columns[ci]
        sep = 1 if widths else 0
        plan = max(plans[ci], col.min_width, len(col.label)) if col.width else plans[ci]
        if used + sep + plan > avail and widths:
            room = avail - used - sep
            if col.width or room < col.min_width:
                continue  # a planned column shows whole or not at all: its room goes to those before it
            plan = room
        widths[ci] = plan
        used += sep + plan
    return widths
