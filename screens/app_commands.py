"""How the UI runs a command: the `:` line, a key or a form hands a script line to `dispatch`,
which parses it at once (a config lookup), then plans, confirms and runs it in a worker thread
(backends never block the UI), re-reads what changed before anything shows it, and shows the
outcome: a toast for a change, the table or text of a read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from textual.content import Content

from cockpit.commands import Context, Plan, Registry, Result
from cockpit.contracts import CockpitError
from cockpit.hub import Hub
from cockpit.state.inventory import Inventory, Round, merge, poll_round
from screens.type_ahead import TypeAhead
from screens.widgets.dialogs import ConfirmScreen, TextScreen
from screens.widgets.result_table import ResultTableScreen

if TYPE_CHECKING:
    from cockpit.state.schedule import SourcePolls
    from screens.base import CockpitScreen

log = logging.getLogger(__name__)


class CommandRunner(TypeAhead):
    """The dispatcher half of CockpitApp (screens/app.py), which owns the state it uses."""

    hub: Hub
    registry: Registry
    ctx: Context
    inventory: Inventory
    source_polls: SourcePolls
    metrics_window: float | None
    metrics_step: float | None
    view_aliases: dict[str, str]

    if TYPE_CHECKING:
        def show_view(self, view: str) -> None: ...
        def request_poll(self, delay: float = 0.0) -> None: ...
        def read_unfinished(self) -> None: ...
        def _for_screens(self, fn: Callable[[CockpitScreen], object]) -> None: ...

    def run_command_line(self, text: str, on_failed: Callable[[str], None] | None = None) -> None:
        """What `:` submits: a view name, `q`, or any script-mode command. `on_failed` (the command
        line) hears a line that does not parse or is refused, to show it again with the error."""
        word = text.strip()
        if word in ("q", "q!", "quit", "exit"):
            self.exit(0)
            return
        if word.lstrip(":") in self.view_aliases:
            self.show_view(self.view_aliases[word.lstrip(":")])
            return
        self.dispatch([text], on_failed)

    def dispatch(self, lines: list[str], on_failed: Callable[[str], None] | None = None) -> None:
        """Parse now (config only, instant), plan and run in a thread: backends never block the UI.
        `on_failed` (a form that wrote the line) hears a refusal or failure instead of a toast, so
        it can come back with what was typed and the error beside the field."""
        invocations = []
        for line in lines:
            try:
                invocations.append(self.registry.parse(line, self.hub))
            except CockpitError as e:
                if on_failed is not None:
                    on_failed(e.message)
                else:
                    self.notify(e.message, title="bad command", severity="error", timeout=8)
                return
        # keys typed from now wait for what the plan brings (the question a change asks): a `y` typed
        # before the cordon dialog was dropped, one after `production⏎` joined the alias
        what = lines[0] if len(lines) == 1 else f"{len(lines)} commands"
        self.hold_keys(f"{what}: planning… (keys typed now wait for its question)")
        holding = [True]
        self.run_worker(lambda: self._plan_then_release(invocations, on_failed, holding), thread=True,
                        group="commands", exit_on_error=False)

    def _plan_then_release(self, invocations: list[Any], on_failed: Callable[[str], None] | None,
                           holding: list[bool]) -> None:
        try:
            self._plan_and_run(invocations, on_failed, holding)
        finally:
            self._let_keys_go(holding)

    def _let_keys_go(self, holding: list[bool]) -> None:
        """From the worker: the keys held since dispatch go (once), before a change's own wait."""
        if holding[0]:
            holding[0] = False
            self.call_from_thread(self.release_keys)

    def _plan_and_run(self, invocations: list[Any], on_failed: Callable[[str], None] | None,
                      holding: list[bool]) -> None:
        plans: list[Plan] = []
        for inv in invocations:
            try:
                plan = self.registry.plan(inv, self.ctx)
            except CockpitError as e:
                if on_failed is not None:
                    self.call_from_thread(on_failed, e.message)
                else:
                    self.call_from_thread(self.notify, e.message, title=inv.spec.name, severity="error", timeout=8)
                continue
            if plan.noop:
                self.call_from_thread(self.notify, plan.noop, title=plan.command)
                continue
            plans.append(plan)
        if not plans:
            return
        mutating = [p for p in plans if p.mutating]
        if mutating and not self._confirm(mutating, holding):
            self.call_from_thread(self.notify, "cancelled: nothing changed", timeout=3)
            return
        self._let_keys_go(holding)  # a read's answer, or a change under way: keys are the screen's again
        no_wait = any(inv.no_wait for inv in invocations)  # a line's --no-wait holds in the UI too
        results = [self.registry.execute(p, self.ctx, wait=not no_wait) for p in plans]
        reread = None
        touched = {p.source for p in mutating if p.source}
        if touched:  # our own change is re-read before anything shows it (or the next poll would)
            self.source_polls.changed(touched)  # a poll that began before now brings their old state
            try:
                reread = poll_round(self.hub, self.inventory, window_s=self.metrics_window, step_s=self.metrics_step,
                                    only=touched, polls=self.source_polls)
            except Exception:  # a bug: logged; the main poll that follows still refreshes, and results show
                log.exception("re-reading %s after a change failed", ", ".join(sorted(touched)))
        self.call_from_thread(self._show_results, results, bool(mutating), reread, on_failed)

    def _confirm(self, plans: list[Plan], holding: list[bool]) -> bool:
        """Blocks this worker thread until the person answers the dialog. The keys held since
        dispatch go to the dialog once it is up (a `y` typed early answers it)."""
        answer: Future[bool] = Future()
        if len(plans) == 1:
            p = plans[0]
            title, lines = p.command, [p.confirm or p.summary]
        else:
            title = f"{plans[0].command} × {len(plans)}"
            lines = [f"{len(plans)} machines:"] + [f"  {p.summary}" for p in plans]
        warnings = [w for p in plans for w in p.warnings]
        typed = plans[0].typed_name if len(plans) == 1 else None

        def ask() -> None:
            self.push_screen(ConfirmScreen(title, lines, warnings, typed, on_answer=answer.set_result))
            if holding[0]:
                holding[0] = False
                self.call_after_refresh(self.release_keys)  # once the dialog is mounted and focused

        self.call_from_thread(ask)
        return answer.result()

    def _show_results(self, results: list[Result], mutated: bool, reread: Round | None = None,
                      on_failed: Callable[[str], None] | None = None) -> None:
        if reread is not None:
            self.inventory = merge(self.inventory, reread, self.source_polls)
            self._for_screens(lambda s: s.inventory_changed())
        if mutated:
            ok = [r for r in results if r.status == "ok"]
            failed = [r for r in results if r.status != "ok"]
            for r in failed:
                if on_failed is not None:
                    on_failed(r.error or r.status)
                else:
                    self.notify(r.error or r.status, title=f"{r.command} {r.status}", severity="error", timeout=10)
            if ok:
                text = "\n".join(r.outcome.text or r.command for r in ok[:6])
                more = f"\n… and {len(ok) - 6} more" if len(ok) > 6 else ""
                self.notify(text + more, title=ok[0].command, timeout=4)
            self.request_poll(0)
            self.read_unfinished()
            self._for_screens(lambda s: s.audit_changed())
            self._for_screens(lambda s: s.refresh_status())
            return
        for r in results:
            if r.status != "ok":
                self.notify(r.error or r.status, title=r.command, severity="error", timeout=10)
            title = r.plan.summary if r.plan else r.command
            error = r.outcome.error.message if r.outcome.error else None
            if r.outcome.table is not None:  # a listing: a table to sort and filter, as on the screens
                self.push_screen(ResultTableScreen(title, r.outcome.table, error))
                continue
            body = "\n".join(t for t in (r.outcome.text, error) if t)
            if body:
                self.push_screen(TextScreen(title, Content(body)))
