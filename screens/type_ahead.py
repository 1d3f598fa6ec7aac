"""Keys typed ahead are neither lost nor misrouted.

A person types at the speed of habit: `2:vm list⏎`, or `c` then `y` for a cordon before its question
is on the screen, or `production⏎y` on a promote. While something the keys are meant for is on its
way (a view being switched to, the question a change asks after its plan is read from the backend),
keys wait here, in order, and are then handed to what appeared. Esc, ctrl+c and ctrl+q never wait:
they release what waited, in order, followed by themselves (the way out is always at hand).

A wait that lasts (a slow backend planning a change) is said on the screen after HINT_AFTER_S, so a
person knows the keys were heard.
"""

from __future__ import annotations

from collections.abc import Awaitable

from textual import events
from textual.app import App
from textual.message_pump import MessagePump
from textual.timer import Timer

WAY_OUT = frozenset({"escape", "ctrl+c", "ctrl+q"})
SETTLE_S = 0.5
"""A key that never comes back (stopped by a widget on its way up) frees the next after this."""
HINT_AFTER_S = 0.4
"""A wait shorter than this goes unremarked (most plans take a few milliseconds)."""


class TypeAhead(App[int]):
    _held: list[events.Key] | None = None
    """Keys waiting (None: none wait)."""
    _holds = 0
    _hint: Timer | None = None
    _last_character: str | None = None
    _in_flight: events.Key | None = None
    """The key being routed through the widgets (the next ones wait for it)."""
    _settle: Timer | None = None
    """The character of the key being handled (a view key typed into a field is that character)."""

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        if self._held is not None:
            self._held.append(event)
            if event.key in WAY_OUT:
                self._holds = 0
                self._release_keys()
            return
        self._last_character = event.character
        target = self.focused or self.screen
        await super().on_event(event)  # a priority binding runs here; any other key goes to `target`
        if event.is_forwarded:
            self._follow(event, target)

    def _follow(self, event: events.Key, target: MessagePump) -> None:
        """A key on its way through the widgets: the next keys wait until it is handled, so that
        what it does (a dispatch that holds keys for its question, a view switch) happens before
        they are routed. Textual routes a key to the focused widget and lets it bubble back to the
        app's bindings through every queue on the way, so `x` then `y` typed at once had `y` routed
        (to the table: XML) before `x`'s stop had asked its question."""
        self.hold_keys()
        self._in_flight = event
        self._settle = self.set_timer(SETTLE_S, lambda: self._key_done(event))  # stopped on the way
        if not target.call_later(self._reached, event):
            self._key_done(event)

    def _reached(self, event: events.Key) -> None:
        """The focused widget has handled the key: done, unless it bubbles on to the bindings."""
        if event._stop_propagation or not event.bubble:
            self._key_done(event)

    async def _on_key(self, event: events.Key) -> None:
        # Textual calls each class's own _on_key along the MRO, App's (the bindings) right after this
        # one, in the same turn: the keys released here are queued behind the action it runs
        self._key_done(event)

    def _key_done(self, event: events.Key) -> None:
        if self._in_flight is event:
            self._in_flight = None
            if self._settle is not None:
                self._settle.stop()
                self._settle = None
            # after what it set off has run too (Enter's Submitted, then the dispatch that holds
            # the keys for its question): Textual runs this once every pending message is handled
            self.release_keys()

    def hold_keys(self, hint: str | None = None) -> None:
        """Keys wait from now until as many release_keys() as hold_keys(); `hint` shows if it lasts."""
        self._holds += 1
        if self._held is None:
            self._held = []
        if hint is not None and self._hint is None:
            self._hint = self.set_timer(HINT_AFTER_S, lambda: self.notify(hint, timeout=3))

    def release_keys(self, *, after_refresh: bool = True) -> None:
        """One hold ends; when the last does, the keys go: after the next refresh (to what appeared:
        a question, a view), or at once (the key before them was handled)."""
        self._holds = max(0, self._holds - 1)
        if self._holds == 0:
            if after_refresh:
                self.call_after_refresh(self._release_keys)
            else:
                self._release_keys()

    def hold_keys_until(self, done: Awaitable[object]) -> None:
        """Keys wait until `done` (a view switch: `2:vm list` typed fast opened the old view's
        command line, and the new view's table took the rest; its space marked a row)."""
        self.hold_keys()

        async def release() -> None:
            try:
                await done
            finally:
                self.release_keys()

        self.run_worker(release(), group="type-ahead", exit_on_error=False)

    def _release_keys(self) -> None:
        if self._holds:
            return  # held again meanwhile: they go with the next release
        if self._hint is not None:
            self._hint.stop()
            self._hint = None
        held, self._held = self._held or [], None
        for key in held:
            self.post_message(events.Key(key.key, key.character))
