"""The Cockpit Textual App: views as modes, one poll loop, and the dispatcher that runs every
UI action through the command registry (plan -> confirm -> execute -> audit)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Input

from cockpit.audit import AuditLog
from cockpit.commands import Context, Registry
from cockpit.config import default_state_dir
from cockpit.contracts import CLUSTERS, MACHINES, CockpitError
from cockpit.history import History
from cockpit.hub import Hub
from cockpit.model_kube import ClusterSnapshot
from cockpit.ops.journal import Journal, Operation, OpState, operations
from cockpit.sanitise import for_display, for_line
from cockpit.state.inventory import Inventory, Round, merge, poll_clusters, poll_round, source_polls
from cockpit.state.poller import Poller, PollResult
from screens.app_commands import CommandRunner
from screens.base import CockpitScreen
from screens.palette import CockpitCommands
from screens.rollout_open import RolloutPanels, RolloutStarted
from screens.widgets.bars import VIEWS
from themes import STYLESHEET, THEMES, theme_name, variable_defaults

log = logging.getLogger(__name__)

ClusterRead = tuple[dict[str, int], dict[str, ClusterSnapshot]]
"""The write epochs when a read of the clusters' watch caches began, and what it read."""

VIEW_ALIASES = {
    "overview": "overview", "o": "overview", "home": "overview",
    "machines": "machines", "m": "machines", "vms": "machines",
    "nodes": "nodes", "gpus": "nodes", "no": "nodes",
    "models": "models", "mo": "models",
    "deployments": "deployments", "deploy": "deployments", "dp": "deployments",
    "costs": "costs", "cost": "costs",
    "metrics": "metrics", "me": "metrics",
    "audit": "audit", "a": "audit",
    "ops": "operations", "operations": "operations",
}


def _changed_and_status(screen: CockpitScreen) -> None:
    screen.inventory_changed()
    screen.refresh_status()


def _operations_and_status(screen: CockpitScreen) -> None:
    screen.operations_changed()
    screen.refresh_status()


def _lazy(module: str, name: str) -> Callable[[], Screen[Any]]:
    def make() -> Screen[Any]:
        screen: Screen[Any] = getattr(importlib.import_module(module), name)()
        return screen

    return make


class CockpitApp(RolloutPanels, CommandRunner):
    TITLE = "cockpit"
    CSS_PATH = str(STYLESHEET)
    # screen modules load when a view is first shown: the first frame pays only for its own view
    MODES: ClassVar[dict[str, Any]] = {
        "overview": _lazy("screens.overview", "OverviewScreen"),
        "machines": _lazy("screens.machines", "MachinesScreen"),
        "nodes": _lazy("screens.nodes", "NodesScreen"),
        "models": _lazy("screens.models", "ModelsScreen"),
        "deployments": _lazy("screens.deployments", "DeploymentsScreen"),
        "costs": _lazy("screens.costs", "CostsScreen"),
        "metrics": _lazy("screens.metrics", "MetricsScreen"),
        "audit": _lazy("screens.audit_view", "AuditScreen"),
        "operations": _lazy("screens.operations", "OperationsScreen"),
    }
    COMMANDS = App.COMMANDS | {CockpitCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority, as `:`: taken in the order typed (a non-priority key reached the app only after
        # the screen had passed it on, behind the keys typed after it: `2:vm list` ran on the old view)
        *(Binding(key, f"view_key('{view}')", title, show=False, id=f"view.{view}", priority=True)
          for key, view, title in VIEWS),
        # priority: handled before the next key is routed, so a fast `:q` lands in the command line
        Binding("colon", "colon", ":command", id="app.command_line", priority=True),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="app.refresh"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit", priority=True),
        Binding("q,ctrl+c", "quit_asking", "Quit", show=False, id="app.quit_asking"),
    ]

    def __init__(self, *, hub: Hub, registry: Registry, audit: AuditLog, keymap: dict[str, str] | None = None,
                 refresh_seconds: float | None = None, start_view: str = "overview", watch: bool = True) -> None:
        # NO_COLOR: the ANSI theme with the terminal's own colours, which Textual's NoColor filter then
        # drops; without this Textual maps every colour to a grey (running 249, stopped 245: the same)
        no_color = "NO_COLOR" in os.environ
        super().__init__(ansi_color=True if no_color else None)
        self.hub = hub
        self.registry = registry
        self.audit = audit
        self.journal = Journal(hub.now)
        """The changes this app runs, as they run (the Operations view, the status bar)."""
        self.journal.subscribe(self._operation_changed)
        self.ctx = Context(hub=hub, audit=audit, origin="ui", progress=self._progress, journal=self.journal)
        self._panels_opened: set[str] = set()
        self.unfinished: list[Operation] = []
        """Operations an earlier process began and never ended (read once at start)."""
        self.inventory = Inventory()
        self.view_aliases = VIEW_ALIASES
        self._keymap = dict(keymap if keymap is not None else hub.config.keys)
        self._refresh_s = hub.config.refresh_seconds if refresh_seconds is None else refresh_seconds
        self._start_view = start_view
        self._watch = watch
        self._history: list[str] = []
        """Keys typed while a view is being switched to (None: none is)."""
        self.command_history = History(default_state_dir() / "command_history")
        """The `:` lines run, across runs (Up and Down in the command line)."""
        self.detail_open: bool | None = None
        """The detail pane as the person last left it with `d` (None: not yet; it follows the width)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self.source_polls = source_polls(hub, self._refresh_s)
        """Each source's schedule (backoff while it is down) and write epoch, shared by the loops."""
        self.main_poll: Poller[Round] = self._poller("poll", self._fetch_all, self._refresh_s)
        self.main_poll.subscribe(self._poll_done)
        self.metrics_poll: Poller[Round] = self._poller("metrics", self._fetch_metrics, 0)
        self.metrics_poll.subscribe(self._metrics_done)
        self.cluster_poll: Poller[ClusterRead] = self._poller("clusters", self._fetch_clusters, 0)
        self.cluster_poll.subscribe(self._clusters_done)
        self.metrics_window: float | None = None
        """The Metrics screen's window and step (None: each Prometheus source's own, else 1h and ~60 points)."""
        self.metrics_step: float | None = None
        self.metrics_refresh_s = hub.config.metrics_refresh_seconds
        self._unsubscribe: list[Callable[[], None]] = []
        for t in THEMES.values():
            self.register_theme(t)
        self.theme = theme_name("ansi" if no_color else hub.config.theme)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme.dark)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification (screens' too: Widget.notify calls this) is plain, sanitised text.

        Messages carry backend text (a Kubernetes validation message, an error from a host): as
        markup, `[a-z0-9]` would vanish and `[/foo]` raise MarkupError, and an ESC in it would reach
        the terminal. So `markup` is ignored (Widget.notify passes True by default)."""
        super().notify(for_display(message), title=for_line(title), severity=severity, timeout=timeout,
                       markup=False)

    @property
    def refresh_s(self) -> float:
        """The main poll's interval (0: no polling)."""
        return self._refresh_s

    def _progress(self, message: str) -> None:
        """A long command (a rollout, a drain) reports from its worker thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: self.notify(message, title="progress", timeout=3))

    def read_unfinished(self) -> None:
        """Operations a crash, ctrl-c or lost session left half done: at start, and after each of
        our changes (an abort of one ends it)."""
        lines, _bad = self.audit.lines()
        self.unfinished = [op for op in operations(lines) if op.state is OpState.UNFINISHED]

    def _operation_changed(self, op: Operation) -> None:
        """A step of one of our operations, from whichever thread made it: screens hear of it. A
        rollout this app starts opens its panel (the person asked for it and will want to watch)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._for_screens, _operations_and_status)
            if op.command == "rollout start" and op.id not in self._panels_opened:
                self._panels_opened.add(op.id)
                self.post_message(RolloutStarted(op.id))  # thread-safe; handled in the app's context

    # -- start -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.read_unfinished()
        if self._keymap:
            self.set_keymap(self._keymap)
        self.switch_mode(self._start_view)
        self._history = [self._start_view]
        # the first poll (SDK import, connection) starts once the first frame is out
        self.call_after_refresh(self.request_poll, 0)
        if self._watch:
            self.call_after_refresh(self.run_worker, self._subscribe, thread=True, group="watch",
                                    exit_on_error=False)

    def _subscribe(self) -> None:
        """Lifecycle events (where the driver has them) trigger a refresh sooner than the poll;
        a Kubernetes watch event refreshes only the clusters, from their caches, never the hosts."""
        def changed(_name: str) -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self.request_poll, 0.2)

        def cluster_changed(_name: str) -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._request_cluster_refresh)

        for source in self.hub.sources("machines") + self.hub.sources("clusters"):
            try:
                if source.kind == "kubernetes":
                    unsub = self.hub.call(source.name, CLUSTERS, lambda b: b.watch(cluster_changed))
                else:
                    unsub = self.hub.call(source.name, MACHINES, lambda b: b.watch(changed))
            except CockpitError:
                continue  # the poll reports the source's health; events are only a bonus
            if unsub is not None:
                self._unsubscribe.append(unsub)

    def on_unmount(self) -> None:
        for unsub in self._unsubscribe:
            threading.Thread(target=unsub, daemon=True).start()

    # -- the read loops: one single-flight Poller each (cockpit.state.poller) -------------------
    # Each round asks the sources their schedule says are due (cockpit.state.schedule) and is laid
    # over what is shown by then, source by source (`merge`): an answer read before our own change
    # to its source never paints over the change's re-read.
    def _poller(self, name: str, fetch: Callable[[], Any], interval_s: float) -> Poller[Any]:
        """Textual lends the loop its worker threads, timers and the way back to this thread."""
        return Poller(name, fetch, interval_s=interval_s,
                      run=lambda work: self.run_worker(work, thread=True, group=name, exit_on_error=False),
                      later=lambda delay, fn: self.set_timer(delay, fn, name=name),
                      deliver=self.call_from_thread)

    @property
    def polling(self) -> bool:
        """The main poll is running (or, from a worker's view, about to hand its answer over)."""
        return self.main_poll.busy

    # clusters: watch events arrive in bursts; one refresh from the caches in flight, one queued
    def _request_cluster_refresh(self) -> None:
        self.cluster_poll.request()

    def _fetch_clusters(self) -> ClusterRead:
        epochs = self.source_polls.epochs()  # before reading: a change of ours after this is newer
        return epochs, poll_clusters(self.hub)

    def _clusters_done(self, result: PollResult[ClusterRead]) -> None:
        from dataclasses import replace

        if result.error is not None or result.value is None:  # a bug must not stop the updates; show it
            self.notify(f"cluster refresh failed: {result.error}", severity="error")
            return
        epochs, snaps = result.value
        unchanged = self.source_polls.unchanged(epochs, snaps)  # our change since is newer than the cache read
        fresh = {name: snap for name, snap in snaps.items() if name in unchanged}
        if fresh:
            self.inventory = replace(self.inventory, clusters={**self.inventory.clusters, **fresh})
            self._for_screens(lambda s: s.inventory_changed())

    # metrics: a faster loop of their own while the Metrics screen is up (the screen's timer asks)
    def request_metrics_poll(self) -> None:
        if self.main_poll.busy:
            return  # the main poll asks the metrics sources too; never two questions at once
        self.metrics_poll.request()

    def _fetch_metrics(self) -> Round:
        return poll_round(self.hub, self.inventory, window_s=self.metrics_window, step_s=self.metrics_step,
                          metrics_only=True, polls=self.source_polls)

    def _metrics_done(self, result: PollResult[Round]) -> None:
        if result.error is not None or result.value is None:
            self.notify(f"metrics refresh failed: {result.error}", severity="error")
            return
        # only the metrics sources it asked: a main poll may have landed newer answers meanwhile
        self.inventory = merge(self.inventory, result.value, self.source_polls)
        self._for_screens(lambda s: s.inventory_changed())

    # the main poll: every source, every refresh_seconds, and at once after our own changes
    def request_poll(self, delay: float = 0.0) -> None:
        self.main_poll.request(delay)

    def _fetch_all(self) -> Round:
        return poll_round(self.hub, self.inventory, self._partial, window_s=self.metrics_window,
                          step_s=self.metrics_step, polls=self.source_polls)

    def _partial(self, part: Round) -> None:
        """From a poll thread: one source answered. Dropped when the app is closing (the loop that
        would show it is gone; the next start polls again)."""
        try:
            self.call_from_thread(self._poll_partial, part)
        except (CancelledError, RuntimeError):
            log.debug("a partial poll round arrived as the app closed")

    def _poll_partial(self, rnd: Round) -> None:
        self.inventory = merge(self.inventory, rnd, self.source_polls)
        self._for_screens(_changed_and_status)  # a source that answered is no longer "never answered"

    def _poll_done(self, result: PollResult[Round]) -> None:
        if result.error is not None or result.value is None:  # a bug must not stop the loop; show it
            self.notify(f"refresh failed: {result.error}", severity="error")
        else:
            self.inventory = merge(self.inventory, result.value, self.source_polls)
        self._for_screens(_changed_and_status)

    def _for_screens(self, fn: Callable[[CockpitScreen], object]) -> None:
        seen: set[int] = set()
        for stack in self._screen_stacks.values():
            for screen in stack:
                if isinstance(screen, CockpitScreen) and id(screen) not in seen and screen.is_mounted:
                    seen.add(id(screen))
                    try:
                        fn(screen)
                    except NoMatches:  # a screen being built or taken down (at exit): it draws when shown
                        log.debug("%s had no widgets to tell", type(screen).__name__)

    def candidates(self, kind: str, option: str | None, words: list[str]) -> list[str]:
        """What the command line suggests for a parameter, from the latest inventory."""
        inv = self.inventory
        sources = [s.name for s in self.hub.sources("machines")]
        if kind == "target":
            if words[:2] == ["vm", "provision"]:
                return [f"{s}/" for s in sources]  # a new name: offer the sources
            return [m.ref for m in inv.all_machines()]
        if kind == "source":
            return [s.name for s in self.hub.sources()]
        if kind == "node":
            return [n.ref for n in inv.nodes()]
        if kind == "workload":
            group = words[0] if words else ""
            if group == "isvc":
                return [i.ref for i in inv.inference_services()]
            if group == "hpa":
                return [h.ref for c in inv.clusters.values() for h in c.hpas]
            if group == "model":  # `model deploy ... --to`: where a model can be served
                return [d.ref for d in inv.deployments()] + [i.ref for i in inv.inference_services()]
            return [d.ref for d in inv.deployments()]
        if kind == "model":
            return [m.ref for m in inv.all_models()]
        target = next((w for w in words[2:] if "/" in w and not w.startswith("--")), "")
        source = target.split("/")[0] if target else (sources[0] if len(sources) == 1 else "")
        if option == "--alias":  # the model's own aliases first, then those the registry uses elsewhere
            models = inv.all_models()
            own = [a for m in models if m.ref == target for a, _v in m.aliases]
            return list(dict.fromkeys(own + sorted({a for m in models for a, _v in m.aliases})))
        if option == "--template":
            return sorted({t.name for t in inv.templates.get(source, ())})
        if option == "--gpu":
            taken = set(words)
            return [g.pci_address for g in inv.gpus.get(source, ())
                    if not g.assigned_running and g.pci_address not in taken]
        return []

    # -- navigation --------------------------------------------------------------------------
    def action_show_view(self, view: str) -> None:
        self.show_view(view)

    def show_view(self, view: str) -> None:
        if self.screen.id == "rollout-panel":  # a view asked for from a panel: the view, not the panel
            self.pop_screen()
        if view != self.current_mode:
            self._history.append(view)
            self._history = self._history[-20:]
            self.hold_keys_until(self.switch_mode(view))

    async def action_back(self) -> None:
        screen = self.screen
        if isinstance(screen, CockpitScreen) and screen.back():
            return
        if len(self._history) > 1:
            self._history.pop()
            self.switch_mode(self._history[-1])

    def action_help(self) -> None:
        from screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def action_refresh(self) -> None:
        self.source_polls.refresh_now()  # every source, those in backoff too (nothing is reset unless it answers)
        self.request_poll(0)
        self.notify("refreshing", timeout=1.5)

    def action_colon(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            focused.insert_text_at_cursor(":")  # PCI addresses and URIs are typed with colons
        else:
            self.open_command_line()

    def action_view_key(self, view: str) -> None:
        focused = self.focused
        if isinstance(focused, Input):  # a digit typed into a field (`deploy scale ... 3`), as it was typed
            focused.insert_text_at_cursor(self._last_character or "")
        else:
            self.show_view(view)

    def open_command_line(self, prefill: str = "") -> None:
        if isinstance(self.screen, CockpitScreen):
            self.screen.action_command_line(prefill)

    def get_default_screen(self) -> Screen[Any]:
        from screens.overview import OverviewScreen

        return OverviewScreen()
