"""Overview: what needs a person first (sources down or degraded, budgets over, idle GPUs, NotReady
nodes, operations left unfinished), each on its own line with the key or command that goes there;
then one line per healthy source; then the summaries (Kubernetes GPUs by model, host GPUs, machines,
costs). The words come from cockpit.state.overview; this module only styles them.

The body scrolls with the table's keys (up/down/j/k, pageup/pagedown, home/end/g/G), and each
block is redrawn only when its text changed: an unchanged poll repaints nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content

from cockpit import format as fmt
from cockpit.allocation import budgets_now
from cockpit.costs import burn
from cockpit.hub import Hub
from cockpit.model import MachineState
from cockpit.prices import current
from cockpit.providers import provider
from cockpit.state.inventory import Inventory
from cockpit.state.overview import (
    ERROR,
    Problem,
    budget_problems,
    gpu_models,
    idle_problem,
    machine_problems,
    node_problems,
    source_lines,
    source_problems,
    unfinished_problems,
)
from screens.base import CockpitScreen
from screens.overview_lines import Line, LinesView

MARKS = {ERROR: ("✗", "$error")}
"""A problem's mark and colour by severity (anything else is a warning: ⚠)."""


class OverviewBody(VerticalScroll):
    """The scrolling body, with the table's motion keys under the Overview's own binding ids."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False, id="overview.up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="overview.down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="overview.page_up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="overview.page_down"),
        Binding("home,g", "scroll_home", "Top", show=False, id="overview.top"),
        Binding("end,G", "scroll_end", "Bottom", show=False, id="overview.bottom"),
    ]


class OverviewScreen(CockpitScreen):
    VIEW = "overview"
    _well_since: datetime | None = None
    """When the problems last went to none (the all-well line's time: fixed while all stays well)."""

    def compose_body(self) -> ComposeResult:
        with OverviewBody(id="overview"):
            yield LinesView(id="overview-problems")
            yield LinesView(id="overview-sources")
            yield LinesView(id="overview-clusters")
            yield LinesView(id="overview-gpus")
            yield LinesView(id="overview-other")

    def focus_main(self) -> None:
        self.query_one("#overview").focus()

    def on_mount(self) -> None:
        self.focus_main()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.focus_main()

    def inventory_changed(self) -> None:
        hub = self.cockpit.hub
        inv = self.cockpit.inventory
        self._show("#overview-problems", self._problems(hub, inv))
        self._show("#overview-sources", self._sources(hub, inv))
        self._show("#overview-clusters", cluster_lines(inv, bool(hub.sources("clusters"))))
        self._show("#overview-gpus", host_gpu_lines(hub, inv))
        self._show("#overview-other", self._other(hub, inv))

    def _show(self, selector: str, lines: list[Line]) -> None:
        self.query_one(selector, LinesView).show(lines)

    # -- problems ----------------------------------------------------------------------------------
    def _problems(self, hub: Hub, inv: Inventory) -> list[Line]:
        cat = current()
        b = burn(inv.all_machines(), cat, hub.config.onprem, inv.nodes())
        found: list[Problem] = [
            *source_problems(hub, inv, self.cockpit.source_polls.next_try),
            *unfinished_problems(self.cockpit.unfinished),
            *budget_problems(b, hub, inv.clusters.values(), cat),
            *machine_problems(inv.all_machines()),
            *node_problems(inv.clusters.values()),
        ]
        idle = idle_problem(inv, cat, hub)
        if idle is not None:
            found.append(idle)
        if found:
            self._well_since = None
            return [problem_line(p) for p in found]
        if not inv.loaded:
            return [Line(Content.from_markup("[$muted]… asking the sources; anything that needs you shows here[/]"))]
        if self._well_since is None:
            self._well_since = hub.now()
        return [Line(Content.from_markup(
            "[$success]✓ all well[/] since $t: no source down, budget over, idle GPU, NotReady node or "
            "unfinished operation", t=self._well_since.astimezone().strftime("%H:%M:%S")), indent=2, wrap=True)]

    # -- sources -----------------------------------------------------------------------------------
    def _sources(self, hub: Hub, inv: Inventory) -> list[Line]:
        if not hub.sources():
            return [Line(Content.from_markup("[b]Sources[/]")),
                    Line(Content("  none configured: write $XDG_CONFIG_HOME/cockpit/config.toml (see README) "
                                 "or run cockpit --demo"), indent=2, wrap=True)]
        rows = source_lines(hub, inv, self.cockpit.refresh_s or None)
        waiting = sum(1 for r in rows if r.waiting)
        counts = [f"{len(rows) - waiting} ok"] + ([f"{waiting} waiting"] if waiting else []) + (
            [f"{len(hub.sources()) - len(rows)} with a problem above"] if len(rows) < len(hub.sources()) else [])
        lines = [Line(Content.from_markup("[b]Sources[/] [$muted]$c[/]", c=", ".join(counts)))]
        names = max((len(r.name) for r in rows), default=0)
        kinds = max((len(r.kind) for r in rows), default=0)
        for r in rows:
            summary = "[$muted]$s[/]" if r.waiting else "$s"
            lines.append(Line(Content.from_markup(
                f"  [b]$n[/]  [$muted]$k[/]  $scope · {summary}", n=r.name.ljust(names), k=r.kind.ljust(kinds),
                scope=r.scope, s=r.summary or "-")))
        return lines

    # -- costs, machines ---------------------------------------------------------------------------
    def _other(self, hub: Hub, inv: Inventory) -> list[Line]:
        machines = inv.all_machines()
        lines = []
        if hub.sources("machines"):
            on = [m for m in machines if m.state is MachineState.RUNNING]
            states = Counter(m.state.value for m in machines)
            counts = ", ".join(f"{n} {st}" for st, n in sorted(states.items(), key=lambda x: (-x[1], x[0])))
            lines.append(Line(Content.from_markup(
                "[b]Machines[/] $n$c · running $g GPUs, $v vCPU, $m  [$muted](2 Machines)[/]", n=str(len(machines)),
                c=f": {counts}" if counts else "", g=str(sum(len(m.gpus) for m in on)),
                v=str(sum(m.vcpus for m in on)), m=fmt.mib(sum(m.memory_mib for m in on)))))
        b = burn(machines, current(), hub.config.onprem, inv.nodes())
        lines += [Line(Content.from_markup("[b]Costs[/]  burn [b]$h[/]/h · $m per 30 days · $n priced$u  "
                                           "[$muted](6 Costs)[/]",
                                           h=fmt.dollars(b.hourly), m=fmt.dollars(b.month), n=str(b.priced),
                                           u=f", {len(b.unpriced)} without a price" if b.unpriced else "")),
                  Line(Content.from_markup("  [$muted]$c; HPC machines and bare-metal nodes from the on-prem model[/]",
                                           c=current().describe(hub.now().date())))]
        for use in budgets_now(b, hub.config.budgets, inv.clusters.values(), current(), hub.config.onprem):
            lines.append(Line(Content.from_markup(
                "  budget [b]$s[/]  projected $p of $m ($r)" + ("  [$error]over by $o[/]" if use.over else ""),
                s=use.key, p=fmt.dollars(use.projected), m=fmt.dollars(use.budget), r=f"{use.ratio:.0%}",
                o=fmt.dollars(use.projected - use.budget))))
        lines.append(Line(Content("")))
        lines.append(Line(Content.from_markup(
            "[$muted]j/k or ↑/↓ scroll · 2 Machines · : commands · ? keys[/]")))
        return lines


def problem_line(p: Problem) -> Line:
    """`✗ lost  libvirt down since 09:30:00: why  (ctrl+r retries · 2 Machines)`, wrapped under its text."""
    mark, colour = MARKS.get(p.severity, ("⚠", "$warning"))
    return Line(Content.from_markup(f"[{colour}]$mark[/] [b]$subject[/] $text  [$muted]($go)[/]", mark=mark,
                                    subject=p.subject, text=p.text, go=p.go), indent=2, wrap=True)


def passthrough(hub: Hub, source: str) -> bool:
    """Whether the source's kind lends GPUs by PCI passthrough (its provider descriptor says): a
    cloud's GPUs come with its instance types, so no cloud has a host GPU line."""
    kind = provider(hub.source(source).kind)
    return kind is not None and kind.host_gpus


def host_gpu_lines(hub: Hub, inv: Inventory) -> list[Line]:
    """Per passthrough host: its GPUs by model, how many are given to running VMs, the free ones."""
    hosts = [s.name for s in hub.sources("machines") if passthrough(hub, s.name)]
    if not hosts:
        return []
    lines = [Line(Content.from_markup("[b]Host GPUs[/] [$muted](PCI passthrough)[/]"))]
    for source in hosts:
        gpus = inv.gpus.get(source)
        if gpus is None:
            continue
        if not gpus:
            lines.append(Line(Content(f"  {source}: no GPUs in the host's PCI device list")))
            continue
        by_model = Counter(g.model for g in gpus)
        busy = sum(1 for g in gpus if g.assigned_running)
        free = [g.pci_address for g in gpus if not g.assigned_running]
        lines.append(Line(Content.from_markup(
            "  [b]$src[/]  $models  in use [b]$busy[/]/$total  free: $free", src=source,
            models=", ".join(f"{n}×{m}" for m, n in by_model.items()), busy=str(busy), total=str(len(gpus)),
            free=", ".join(free) or "none")))
    if len(lines) == 1:
        lines.append(Line(Content("  none known yet" if not inv.loaded else "  no host answered")))
    return lines


def cluster_lines(inv: Inventory, configured: bool) -> list[Line]:
    """Per cluster: nodes ready and not; per GPU model: total, allocated, free, and the GPUs on
    nodes no pod can go to (NotReady, cordoned), which are never counted as free."""
    if not configured:
        return []
    lines = [Line(Content.from_markup("[b]Kubernetes GPUs[/] [$muted](allocated = requests of running pods; "
                                      "3 Nodes)[/]"))]
    for source, snap in sorted(inv.clusters.items()):
        if snap.errors and not snap.nodes:
            continue  # none of its lists answered: a problem above, nothing to sum here
        ready = sum(1 for n in snap.nodes if n.ready)
        cordoned = sum(1 for n in snap.nodes if n.unschedulable)
        head = f"{fmt.plural(len(snap.nodes), 'node')}: {ready} ready" + (
            f", {len(snap.nodes) - ready} NotReady" if ready < len(snap.nodes) else "") + (
            f", {cordoned} cordoned" if cordoned else "")
        lines.append(Line(Content.from_markup("  [b]$src[/]  $head", src=source, head=head)))
        models = gpu_models(snap)
        width = max((len(g.product) for g in models), default=0)
        for g in models:
            lines.append(Line(Content.from_markup("    $p  $t", p=g.product.ljust(width), t=g.describe())))
    if len(lines) == 1:
        lines.append(Line(Content("  none known yet" if not inv.loaded else "  no cluster answered")))
    return lines
