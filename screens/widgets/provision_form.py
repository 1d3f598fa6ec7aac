"""The provision dialog: a form per kind of source (libvirt, EC2, Compute Engine, Azure; the fields
are the kind's provider descriptor's) that writes a `vm provision` command line. The line goes
through the same registry as the `:` line and the script mode, so the plan the cloud answers, the
confirmation and the audit are the same; the form only spares a person from remembering which
options their cloud takes."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from cockpit.providers import FormField, provider
from screens.widgets.flag import Flag


def form(kind: str) -> tuple[FormField, ...]:
    """The kind's fields, from its provider descriptor (empty: the kind has no form)."""
    found = provider(kind)
    return found.form if found is not None else ()


def command_line(source: str, kind: str, values: Mapping[str, str | bool]) -> str:
    """The `vm provision` line the form's values say (empty fields left out)."""
    words = ["vm", "provision", f"{source}/{str(values.get('where') or '').strip()}"]
    for f in form(kind):
        value = values.get(f.option)
        if f.option == "where" or value in (None, "", False):
            continue
        if f.flag:
            words += [f.option, "on-demand"] if f.option == "--fallback" else [f.option]
        else:
            words += [w for part in (str(value).split() if f.many else [str(value).strip()]) for w in (f.option, part)]
    return " ".join(shlex.quote(w) for w in words)


class ProvisionScreen(ModalScreen[str | None]):
    """Fill in, then Enter (or Plan) hands the command line back; Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="provision.cancel"),
                                                  Binding("enter", "submit", "Plan", id="provision.plan")]

    def __init__(self, source: str, kind: str, defaults: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.source = source
        self.kind = kind
        self.defaults = dict(defaults or {})

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="provision"):
            yield Static(
                Content.from_markup(
                    "[b]New machine on $s[/] [$muted]($k) · enter plans, esc cancels[/]", s=self.source, k=self.kind
                ),
                id="dialog-title",
            )
            with VerticalScroll(id="dialog-body"):
                for f in form(self.kind):
                    fid = "f-" + f.option.strip("-")
                    if f.flag:
                        yield Flag(f.label, bool(self.defaults.get(f.option)), id=fid, classes="form-flag")
                    else:
                        with Horizontal(classes="form-row"):
                            yield Label(f.label + (" *" if f.required else ""), classes="form-label")
                            yield Input(
                                value=self.defaults.get(f.option, ""), placeholder=f"e.g. {f.placeholder}", id=fid
                            )
            yield Static("", id="form-error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Plan (enter)", id="plan", variant="primary")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def values(self) -> dict[str, str | bool]:
        out: dict[str, str | bool] = {}
        for f in form(self.kind):
            widget = self.query_one("#f-" + f.option.strip("-"))
            out[f.option] = widget.value if isinstance(widget, Checkbox | Input) else ""
        return out

    def draft(self) -> dict[str, str]:
        """The values as defaults for the next form (a ticked flag as "yes", an unticked one left out)."""
        return {k: "yes" if v is True else str(v) for k, v in self.values().items() if v not in ("", False)}

    def line(self) -> str:
        return command_line(self.source, self.kind, self.values())

    def action_submit(self) -> None:
        """Hands the line back, unless a required field (marked *) is empty: then says which."""
        values = self.values()
        missing = [f for f in form(self.kind) if f.required and not str(values.get(f.option) or "").strip()]
        if missing:
            self.query_one("#form-error", Static).update(
                Content.from_markup("[$error]required: $m[/]", m=", ".join(f.label for f in missing))
            )
            self.query_one("#f-" + missing[0].option.strip("-")).focus()
            return
        self.dismiss(self.line())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "plan":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
