"""Audit: the audit log, newest first; Enter shows one entry with its previous and new values."""

from __future__ import annotations

import json
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.audit import AuditEntry, change_text
from cockpit.serialize import to_jsonable
from screens.base import TableScreen
from screens.safe import safe
from screens.widgets.command_line import FilterBox
from screens.widgets.dialogs import TextScreen
from screens.widgets.virtual_table import Column, Row, VirtualTable

COLUMNS = (
    Column("time", "TIME", min_width=19, max_width=19, priority=0),
    Column("user", "USER", min_width=4, max_width=12, priority=3),
    Column("origin", "FROM", min_width=4, max_width=6, priority=4),
    Column("command", "COMMAND", min_width=7, max_width=14, priority=0),
    Column("target", "TARGET", min_width=8, max_width=28, priority=0),
    Column("result", "RESULT", min_width=6, max_width=7, priority=1,
           style=lambda v: "vt--good" if v == "ok" else "vt--bad"),
    Column("change", "CHANGE", min_width=6, max_width=40, grow=True, priority=2),
)


def _change(e: AuditEntry) -> str:
    return change_text(e.previous, e.new) + (f"  ({e.error})" if e.error else "")


class AuditScreen(TableScreen):
    VIEW = "audit"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("slash", "filter", "Filter", id="audit.filter")]

    def compose_body(self) -> ComposeResult:
        yield FilterBox(placeholder="filter the audit log (esc clears)", id="filter")
        yield Static("", id="audit-summary")
        yield VirtualTable(COLUMNS, markable=False, id="audit-table")

    def on_mount(self) -> None:
        self.query_one(VirtualTable).focus()
        self.audit_changed()

    def on_screen_resume(self) -> None:
        self.audit_changed()  # CockpitScreen.on_screen_resume runs too (Textual walks the MRO)

    def audit_changed(self) -> None:
        log = self.cockpit.audit
        entries, bad = log.read(limit=10_000)
        self._entries = {str(i): e for i, e in enumerate(entries)}
        rows = [Row(str(i), (e.time[:19].replace("T", " "), e.user, e.origin, e.command, e.target or "-", e.result,
                             _change(e))) for i, e in reversed(list(enumerate(entries)))]
        table = self.query_one(VirtualTable)
        table.empty_text = f"no entries yet in {log.path}"
        table.set_rows(rows)
        note = f"{fmt.plural(len(entries), 'entry', 'entries')} in {log.path}"
        if bad:
            note += f" · {fmt.plural(bad, 'unreadable line')} skipped"
        self.query_one("#audit-summary", Static).update(safe(note))  # a str is markup

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        e = self._entries.get(str(event.key))
        if e is not None:
            self.app.push_screen(TextScreen(f"audit: {e.command} {e.target or ''}",
                                            json.dumps(to_jsonable(e), indent=2)))
