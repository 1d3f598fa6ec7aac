"""The provision dialog: a form per kind of source (libvirt, EC2, Compute Engine, Azure; the fields
are the kind's provider descriptor's) that writes a `vm provision` command line. The line goes
through the same registry as the `:` line and the script mode, so the plan the cloud answers, the
confirmation and the audit are the same; the form only spares a person from remembering which
options their cloud takes."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from functools import partial
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Checkbox, Input, Label, Static

from cockpit.providers import FormField, provider
from cockpit.sanitise import for_line, is_clean
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


Choice = tuple[str, str]
"""A value a field can take and what to say about it (`0000:65:00.0`, `A100 80GB, free`)."""


class WordSuggester(Suggester):
    """Completes the last word of a field from its choices (a many-valued field, like GPUs, takes
    several, each offered once); names with control or bidi characters are never offered."""

    def __init__(self, choices: Callable[[], list[Choice]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.choices = choices

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(" ")
        taken = set(head.split())
        if any(v == last for v, _ in self.choices()):
            return None  # already a whole choice (`g2-standard-4`, not `g2-standard-48`): Tab moves on
        hit = next((v for v, _ in self.choices() if v.startswith(last) and v != last and v not in taken
                    and is_clean(v)), None)
        return f"{head} {hit}".lstrip() if hit is not None else None


class ProvisionScreen(ModalScreen[str | None]):
    """Fill in, then Enter (or Plan) hands the command line back; Esc cancels. Opened again with
    `error` after a refused plan or a failed provision: what was typed is back, the error beside the
    field it names."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="provision.cancel"),
                                                  Binding("enter", "submit", "Plan", id="provision.plan"),
                                                  Binding("tab", "complete", "Complete", show=False,
                                                          id="provision.complete")]

    def __init__(self, source: str, kind: str, defaults: Mapping[str, str] | None = None, *,
                 error: str | None = None,
                 choices: Callable[[str, Mapping[str, str | bool]], list[Choice]] | None = None) -> None:
        super().__init__()
        self.source = source
        self.kind = kind
        self.defaults = dict(defaults or {})
        self.error = error
        self._choices = choices

    def choices(self, option: str) -> list[Choice]:
        """The field's choices given what the form holds now (types follow the region typed)."""
        if self._choices is None:
            return []
        try:
            values = self.values()
        except NoMatches:  # a field's first value asks before the later fields are composed
            return []
        return self._choices(option, values)

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
                                value=self.defaults.get(f.option, ""), placeholder=f"e.g. {f.placeholder}", id=fid,
                                suggester=WordSuggester(partial(self.choices, f.option)),
                            )
                        yield Static("", id="e-" + fid, classes="field-error")
            yield Static("", id="form-hint")
            yield Static("", id="form-error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Plan (enter)", id="plan", variant="primary")

    def on_mount(self) -> None:
        if self.error:
            self.show_error(self.error)
        else:
            self.query(Input).first().focus()

    def show_error(self, message: str) -> None:
        """Under the field the message names (`--template`, `template 'gpu'`, `GPU 0000:65:00.0`), or
        under the form when it names none; that field gets the focus."""
        text = for_line(message)
        field = field_named(self.kind, message)
        if field is None:
            self.query_one("#form-error", Static).update(Content.from_markup("[$error]$t[/]", t=text))
            self.query(Input).first().focus()
            return
        fid = "f-" + field.option.strip("-")
        note = self.query_one("#e-" + fid, Static)
        note.update(Content.from_markup("[$error]↳ $t[/]", t=text))
        note.add_class("open")
        self.query_one("#" + fid).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The focused field's choices (free GPUs first, with who holds the others), under the form."""
        option = "--" + (event.widget.id or "").removeprefix("f-")
        found = self.choices(option) if isinstance(event.widget, Input) else []
        hint = self.query_one("#form-hint", Static)
        if not found:
            hint.update("")
            return
        listed = ", ".join(f"{v} ({why})" if why else v for v, why in found[:6]) + (" …" if len(found) > 6 else "")
        hint.update(Content.from_markup("[$text-muted]tab completes · $t[/]", t=for_line(listed)))

    def action_complete(self) -> None:
        """Tab takes the field's suggestion like a shell; with none, it moves to the next field."""
        focused = self.focused
        suggestion = getattr(focused, "_suggestion", "") if isinstance(focused, Input) else ""
        if isinstance(focused, Input) and suggestion and suggestion != focused.value:
            focused.value = suggestion
            focused.cursor_position = len(suggestion)
        else:
            self.focus_next()

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
        for note in self.query(".field-error"):
            note.remove_class("open")
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


def field_named(kind: str, message: str) -> FormField | None:
    """The form field an error is about: its option (`--template`) or label (`template`) named in the
    message, the longest match first (`spot max $/h` before `spot`)."""
    low = message.lower()
    fields = sorted(form(kind), key=lambda f: -len(f.label))
    for f in fields:
        if f.option != "where" and f.option in low:
            return f
    for f in fields:
        if f.label.lower() in low or (f.option == "--gpu" and "gpu" in low):
            return f
    return None
