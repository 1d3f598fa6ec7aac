"""The `:` command line (k9s style) and the `/` filter box.

The command line takes exactly the script mode's language, completed from the registry (command
words, options) and from the inventory (SOURCE/NAME targets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from cockpit.commands import Registry


class CommandSuggester(Suggester):
    def __init__(self, registry: Registry, targets: Callable[[], list[str]], views: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.registry = registry
        self.targets = targets
        self.views = views

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, self.registry, self.targets(), self.views)


def complete(value: str, registry: Registry, targets: list[str], views: list[str]) -> str | None:
    """The whole line with its last word completed, or None. Pure, so tests can call it."""
    if not value or (value.endswith(" ") and not value.strip()):
        return None
    words = value.split(" ")
    head, last = words[:-1], words[-1]
    if not last:
        return None
    spec_names = [s.name for s in registry.specs()]
    typed = " ".join(head)
    if not head:
        firsts = sorted({n.split()[0] for n in spec_names} | set(views))
        hit = next((w for w in firsts if w.startswith(last) and w != last), None)
        return hit and hit
    spec = next((s for s in sorted(registry.specs(), key=lambda s: -len(s.words))
                 if typed.startswith(s.name) and (typed == s.name or typed[len(s.name)] == " ")), None)
    if spec is None:
        subs = [n.split()[len(head)] for n in spec_names if n.startswith(typed + " ") and len(n.split()) > len(head)]
        hit = next((w for w in sorted(subs) if w.startswith(last) and w != last), None)
        return f"{typed} {hit}" if hit else None
    if last.startswith("--"):
        options = [p.name for p in spec.params if p.is_option] + ["--dry-run", "--yes"]
        hit = next((o for o in options if o.startswith(last) and o != last), None)
    elif any(p.kind == "target" for p in spec.params):
        hit = next((t for t in sorted(targets) if t.startswith(last) and t != last), None)
    else:
        hit = None
    return f"{typed} {hit}" if hit else None


class _Popup(Input):
    """Hidden until opened; while hidden it must not take focus (it would swallow every key)."""

    def on_mount(self) -> None:
        self.can_focus = False

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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="command.close"),
        Binding("tab", "complete", "Complete", id="command.complete"),
    ]

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
