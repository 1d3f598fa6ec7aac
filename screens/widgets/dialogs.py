"""Modal dialogs: confirm a plan (y/n, or type the name for destroy), show a result, show help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from screens.safe import safe


class ConfirmScreen(ModalScreen[bool]):
    """Shows what will change; `y`/Enter confirms, `n`/Esc cancels. A typed name replaces `y` for
    destructive plans, so no single key can destroy anything."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Cancel", id="confirm.cancel"),
        Binding("y", "answer(True)", "Confirm", id="confirm.yes"),
    ]

    def __init__(self, title: str, lines: list[str], warnings: list[str], typed_name: str | None = None,
                 on_answer: Callable[[bool], None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.warnings = warnings
        self.typed_name = typed_name
        self._on_answer = on_answer
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="confirm" + (" danger" if self.typed_name else "")):
            yield Static(safe(Content.from_markup("[b]$t[/]", t=self.title_text)), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                for line in self.lines:
                    yield Static(safe(line), classes="plan-line")  # names, targets
                for w in self.warnings:
                    yield Static(safe(Content.from_markup("[$warning]⚠ $w[/]", w=w)), classes="plan-warning")
            if self.typed_name:
                yield Static(safe(Content.from_markup("Type [b]$n[/] to confirm:", n=self.typed_name)))
                yield Input(placeholder=self.typed_name, id="typed-name")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button("Confirm" if self.typed_name else "Confirm (y)", id="confirm",
                             variant="error" if self.typed_name else "primary", disabled=bool(self.typed_name))

    def on_mount(self) -> None:
        if self.typed_name:
            self.query_one("#typed-name", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != self.typed_name

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.typed_name:
            self.action_answer(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "confirm")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # `y` does not confirm a typed-name dialog
        return not (action == "answer" and parameters == (True,) and self.typed_name)

    def action_answer(self, value: bool) -> None:
        if not self._answered:
            self._answered = True
            if self._on_answer:
                self._on_answer(value)
            self.dismiss(value)

    def on_unmount(self) -> None:
        if not self._answered and self._on_answer:
            self._answered = True
            self._on_answer(False)  # the app is closing: a waiting worker must not hang


class TextScreen(ModalScreen[None]):
    """Command output, an XML definition, an audit entry: scrollable text, Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close", id="text.close")]

    def __init__(self, title: str, text: str | Content) -> None:
        super().__init__()
        self.title_text = title
        self.body = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="text"):
            yield Static(safe(Content.from_markup("[b]$t[/]  [$muted](esc closes)[/]", t=self.title_text)),
                         id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(safe(self.body), id="text-body")  # command output, an XML definition, an audit entry

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[str | None]):
    """Choose one of a few options (a revision to roll back to): arrows, enter picks, esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]

    def __init__(self, title: str, hint: str, options: list[tuple[str, str]], highlight: int = 0) -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.options = options
        self.highlight = highlight

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical(id="dialog"):
            yield Static(safe(Content.from_markup("[b]$t[/]  [$muted]$h[/]", t=self.title_text, h=self.hint)),
                         id="dialog-title")
            # a str prompt would be parsed as markup: revisions and their causes are backend text
            yield OptionList(*(Option(safe(label), id=value) for value, label in self.options), id="pick-list")

    def on_mount(self) -> None:
        from textual.widgets import OptionList

        pick = self.query_one(OptionList)
        pick.highlighted = min(self.highlight, len(self.options) - 1) if self.options else None
        pick.focus()

    def on_option_list_option_selected(self, event: object) -> None:
        option = getattr(event, "option", None)
        self.dismiss(getattr(option, "id", None))

    def action_cancel(self) -> None:
        self.dismiss(None)
