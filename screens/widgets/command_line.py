"""The `:` command line (k9s style) and the `/` filter box.

The command line takes exactly the script mode's language, completed from the registry (command
words, options, choices) and from the inventory (SOURCE/NAME targets, templates, free GPUs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from cockpit.commands import Registry
from cockpit.history import History
from cockpit.sanitise import is_clean

Candidates = Callable[[str, str | None, list[str]], list[str]]
"""(param kind, option name or None, the words typed so far) -> values worth suggesting."""


class CommandSuggester(Suggester):
    def __init__(self, registry: Registry, candidates: Candidates, views: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.registry = registry
        self.candidates = candidates
        self.views = views

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.registry, self.candidates, self.views)


def complete(value: str, registry: Registry, candidates: Candidates, views: list[str]) -> str | None:
    """The whole line with its last word completed, or None. Pure, so tests can call it."""
    words = value.split(" ")
    head, last = words[:-1], words[-1]
    if not last:
        return None
    spec_names = [s.name for s in registry.specs()]
    typed = " ".join(head)
    if not head:
        pool = sorted({n.split()[0] for n in spec_names} | set(views))
        return _first(pool, last)
    spec = next((s for s in sorted(registry.specs(), key=lambda s: -len(s.words))
                 if typed.startswith(s.name) and (typed == s.name or typed[len(s.name)] == " ")), None)
    if spec is None:
        pool = sorted(n.split()[len(head)] for n in spec_names
                      if n.startswith(typed + " ") and len(n.split()) > len(head))
    else:
        params = {p.name: p for p in spec.params}
        prev = params.get(head[-1])
        if prev is not None and prev.kind != "flag":  # the value of an option
            pool = list(prev.choices) or candidates(prev.kind, prev.name, words)
        elif last.startswith("--"):
            pool = [p.name for p in spec.params if p.is_option] + ["--dry-run", "--yes"]
        else:
            positional = next((p for p in spec.params if not p.is_option), None)
            pool = candidates(positional.kind, None, words) if positional is not None else []
    hit = _first(sorted(pool), last)
    return f"{typed} {hit}" if hit else None


def _first(pool: list[str], prefix: str) -> str | None:
    # a name with a control or bidi character is never suggested: the Input would render it raw
    return next((w for w in pool if w.startswith(prefix) and w != prefix and is_clean(w)), None)


class _Popup(Input):
    """Hidden until opened; while hidden it must not take focus (it would swallow every key)."""

    def on_mount(self) -> None:
        self.can_focus = False
        self.select_on_focus = False  # a prefilled line (`deploy scale REF `) is extended, not replaced

    def open(self, value: str = "") -> None:
        self.value = value
        self.can_focus = True
        self.add_class("open")
        self.display = True  # inline, so it is focusable now rather than after the next CSS pass
        # focus now, not via focus() (which is deferred): `:q` typed fast must land in the line
        self.screen.set_focus(self)
        self.cursor_position = len(value)

    def close(self) -> None:
        self.remove_class("open")
        self.display = False
        self.can_focus = False


class CommandLine(_Popup):
    """The `:` line. Up and Down walk the lines run before (cockpit.history, kept across runs); Up
    on a line already begun walks only those that start with it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="command.close"),
        Binding("tab", "complete", "Complete", id="command.complete"),
        Binding("up", "older", "History", id="command.older"),
        Binding("down", "newer", "Later line", show=False, id="command.newer"),
        # Enter typed before the terminal was in raw mode (while cockpit starts) arrives as ^J
        Binding("ctrl+j", "submit", "Run", show=False, id="command.run"),
    ]

    def __init__(self, *args: Any, history: History | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history = history

    def action_older(self) -> None:
        if self.history is not None:
            self._recall(self.history.older(self.value))

    def action_newer(self) -> None:
        if self.history is not None:
            self._recall(self.history.newer())

    def _recall(self, line: str | None) -> None:
        if line is not None:
            self.value = line
            self.cursor_position = len(line)

    def close(self) -> None:
        super().close()
        if self.history is not None:
            self.history.reset()

    def action_complete(self) -> None:
        """Tab takes the suggestion (shown greyed after the cursor), like a shell."""
        suggestion = getattr(self, "_suggestion", "")
        if suggestion and suggestion != self.value:
            self.value = suggestion
            self.cursor_position = len(suggestion)

    class Closed(Message):
        pass

    def action_close(self) -> None:
        self.value = ""
        self.post_message(self.Closed())


class FilterBox(_Popup):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter", id="filter.clear")]

    class Cleared(Message):
        pass

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())
