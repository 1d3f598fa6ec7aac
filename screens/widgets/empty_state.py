"""The honest empty state: what this screen needs, why it is empty, and how to fix it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from screens.safe import safe


class EmptyState(Vertical):
    def __init__(self, title: str, why: str, fix: str, example: str = "", id: str | None = None) -> None:
        super().__init__(id=id, classes="empty-state")
        self.title_text, self.why, self.fix, self.example = title, why, fix, example

    def compose(self) -> ComposeResult:
        yield Static(safe(Content.from_markup("[b]$t[/]", t=self.title_text)), classes="empty-title")
        yield Static(safe(self.why), classes="empty-why")  # may quote an error
        yield Static(safe(self.fix), classes="empty-fix")
        if self.example:
            yield Static(safe(self.example), classes="empty-example")
