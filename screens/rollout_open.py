"""How the app opens rollout panels: by itself when a rollout it started begins (a message posted
from the worker thread that runs the change, handled in the app's context), and on request (the
Operations view's Enter); one panel at a time, never over an open question. And `q`: quit, asking
first when changes are still being followed."""

from __future__ import annotations

from textual.app import App
from textual.message import Message
from textual.screen import ModalScreen

from cockpit.ops.journal import Journal


class RolloutStarted(Message):
    """A rollout this app started: its panel opens."""

    def __init__(self, op_id: str) -> None:
        super().__init__()
        self.op_id = op_id


class RolloutPanels(App[int]):
    journal: Journal

    def on_rollout_started(self, message: RolloutStarted) -> None:
        if isinstance(self.screen, ModalScreen):  # a question is open: never put a panel over it
            self.notify(f"rollout {message.op_id[:8]} started: :ops, then Enter, to watch it", timeout=6)
            return
        self.open_rollout(message.op_id)

    def open_rollout(self, op_id: str) -> None:
        """The rollout panel of one operation (cockpit.ops.rollout_view draws it from the record);
        not a second one over the same rollout's."""
        from screens.rollout import RolloutScreen

        if isinstance(self.screen, RolloutScreen):
            if self.screen.op_id == op_id:
                return
            self.pop_screen()  # one panel at a time: another rollout's takes its place
        self.push_screen(RolloutScreen(op_id))

    def action_quit_asking(self) -> None:
        """`q` (and ctrl+c): quit at once, unless this app still follows changes; then say which and
        ask (quitting stops following them; the changes stand, and the next start reports them)."""
        from screens.widgets.dialogs import ConfirmScreen

        running = self.journal.running()
        if not running:
            self.exit(0)
            return
        names = [f"  {op.command} {op.target or ''}".rstrip() for op in running[:5]]
        lines = [f"{len(running)} operation(s) still followed here:", *names,
                 "Quitting stops following them: the changes stand, and the next start reports each as unfinished."]
        self.push_screen(ConfirmScreen("quit", lines, []), lambda yes: self.exit(0) if yes else None)
