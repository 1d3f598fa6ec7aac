"""Nodes & GPUs: every node of every Kubernetes context in one table, with what its GPUs are
doing (product, allocatable, allocated by running pods, free, MIG slices) and who holds them.

Cordon, uncordon and drain go through the command registry like every other change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit import format as fmt
from cockpit.costs import OnPremModel, node_rate
from cockpit.model_kube import Deployment, KubeNode, gpu_text, owning_deployment, product
from cockpit.prices import current
from cockpit.promql import Figures
from screens.detail_table import NO_CLUSTER, DetailTableScreen
from screens.metric_columns import GPU_MEM, GPU_UTIL, figures, gpu_cells, gpu_line
from screens.widgets.virtual_table import Column, Row, tag_style


def _status_style(value: str) -> str | None:
    if value.startswith("NotReady"):
        return "vt--bad"
    return "vt--warn" if "Cordoned" in value else "vt--good"


def _free_style(value: str) -> str | None:
    return "vt--dim" if value in ("0", "-") else "vt--good"


# Each column declares the width it is planned at (Column.width), so the terminal's width alone
# decides which show: at 80 columns NODE, CLUSTER, STATUS, GPU, ALLOC, FREE, GPU% and PODS. STATUS is
# planned for `Ready,Cordoned` (cordoning a node must not push CLUSTER out) and ALLOC for a MIG
# node's `3/7×1g.10gb`; GPUS (its count is ALLOC's denominator) goes before them.
COLUMNS = (
    Column("name", "NODE", min_width=8, max_width=28, width=11, priority=0),
    Column("cluster", "CLUSTER", min_width=6, max_width=14, width=8, priority=1),
    Column("status", "STATUS", min_width=6, max_width=17, width=14, priority=0, style=_status_style),
    Column("gpu", "GPU", min_width=3, max_width=21, width=14, priority=1),
    Column("total", "GPUS", min_width=4, max_width=4, width=4, align="right", priority=4),
    Column("alloc", "ALLOC", min_width=5, max_width=14, width=11, align="right", priority=0),
    Column("free", "FREE", min_width=4, max_width=4, width=4, align="right", priority=0, style=_free_style),
    GPU_UTIL,
    GPU_MEM,
    Column("cost", "$/H", min_width=6, max_width=8, width=6, align="right", priority=3),
    Column("cpu", "CPU", min_width=3, max_width=8, width=5, align="right", priority=4),
    Column("mem", "MEM", min_width=3, max_width=6, width=5, align="right", priority=5),
    Column("pods", "PODS", min_width=4, max_width=5, width=4, align="right", priority=2),
    Column("pool", "POOL", min_width=4, max_width=16, width=10, priority=6),
    Column("version", "VERSION", min_width=7, max_width=9, width=7, priority=8),
    Column("age", "AGE", min_width=3, max_width=6, width=4, align="right", priority=7),
)


def status_text(n: KubeNode) -> str:
    return ("Ready" if n.ready else "NotReady") + (",Cordoned" if n.unschedulable else "")


def node_row(n: KubeNode, now: datetime, colour: str | None, figures: Figures | None = None,
             onprem: OnPremModel | None = None) -> Row:
    """A node's $/H: its cloud's price for its instance type and zone, or the on-prem model for
    bare metal (the Costs screen says which, and why a node has none)."""
    use = gpu_cells(figures.node(n.source, n.name) if figures and (n.gpu_capacity or n.mig) else None)
    cost = fmt.dollars(node_rate(n, current(), onprem or OnPremModel()).hourly)
    return Row(n.ref, (
        n.name, n.source, status_text(n), product(n),
        str(n.gpu_capacity) if n.gpu_capacity else (str(sum(s.capacity for s in n.mig)) if n.mig else "-"), gpu_text(n),
        str(n.gpu_free) if n.gpu_allocatable else "-", *use, cost,
        f"{n.cpu_requested_m / 1000:g}/{n.cpu_allocatable_m / 1000:g}",
        fmt.mib(n.memory_allocatable_mib), str(len(n.pods)), n.instance_type or "-", n.version,
        fmt.age(n.created_at, now),
    ), style=tag_style(colour))


def gpu_totals(nodes: list[KubeNode]) -> str:
    """`GPUs 36: 19 allocated, 13 free (A100-SXM4-80GB 5, L4 4 ...)`: what the Overview shows too."""
    total = sum(n.gpu_allocatable for n in nodes)
    used = sum(n.gpu_allocated for n in nodes)
    free: Counter[str] = Counter()
    for n in nodes:
        if n.gpu_free:
            free[product(n)] += n.gpu_free
    per = ", ".join(f"{p} {k}" for p, k in free.most_common())
    slices = sum(s.allocatable for n in nodes for s in n.mig)
    mig = f" · MIG slices {sum(s.allocated for n in nodes for s in n.mig)}/{slices}" if slices else ""
    return f"GPUs {total}: {used} allocated, {sum(free.values())} free" + (f" ({per})" if per else "") + mig


class NodesScreen(DetailTableScreen):
    VIEW = "nodes"
    PREFIX = "nodes"
    COLUMNS = COLUMNS
    LOADING = "loading nodes..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="nodes.filter"),
        Binding("c", "cordon(True)", "Cordon", id="nodes.cordon"),
        Binding("u", "cordon(False)", "Uncordon", id="nodes.uncordon"),
        Binding("D", "drain", "Drain", id="nodes.drain"),
        Binding("f", "gpu_only", "GPU nodes only", show=False, id="nodes.gpu_only"),  # in ?; g is the table's top
        Binding("d", "toggle_detail", "Detail", id="nodes.detail"),
    ]
    gpu_only = False

    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        hub = self.cockpit.hub
        colours = self.source_colours()
        nodes = [n for n in inv.nodes() if not self.gpu_only or n.gpu_capacity or n.mig]
        nodes.sort(key=lambda n: (n.source, n.name))
        now = hub.now()
        figs = figures(self.cockpit)
        self.stale_note = figs.stale_note()
        onprem = self.cockpit.hub.config.onprem
        self.place_cluster_column()
        self.show_rows([node_row(n, now, colours.get(n.source), figs, onprem) for n in nodes], noun="nodes",
                       configured=bool(hub.sources("clusters")), unconfigured=NO_CLUSTER, problems=self._problems(),
                       role="clusters")

    def _problems(self) -> list[str]:
        inv = self.cockpit.inventory
        out = [f"{s}: {e}" for s, e in sorted(inv.cluster_errors.items())]
        out += [f"{c.source}: {c.errors['nodes']}" for c in inv.clusters.values() if "nodes" in c.errors]
        out += [f"{c.source}: {c.errors['pods']} (GPU allocation unknown)" for c in inv.clusters.values()
                if "pods" in c.errors]
        out += [f"{c.source}: {c.notes['pods']}" for c in inv.clusters.values() if "pods" in c.notes]
        return out

    def summary_text(self) -> str:
        nodes = self.cockpit.inventory.nodes()
        ready = sum(1 for n in nodes if n.ready)
        cordoned = sum(1 for n in nodes if n.unschedulable)
        text = f"{fmt.plural(len(nodes), 'node')}: {ready} ready, {len(nodes) - ready} not ready"
        text += f", {cordoned} cordoned" if cordoned else ""
        text += " · " + gpu_totals(nodes)
        if self.gpu_only:
            text += " · GPU nodes only (g)"
        for problem in self._problems():
            text += f" · {problem}"
        return text

    def detail_for(self, key: Hashable) -> Content | None:
        n = self.cockpit.inventory.node(str(key))
        if n is None:
            return None
        snap = self.cockpit.inventory.clusters.get(n.source)
        figs = figures(self.cockpit)
        use = gpu_line(figs.node(n.source, n.name), figs.why_no_gpu(n.name)) if n.gpu_capacity or n.mig else None
        return node_detail(n, self.cockpit.hub.now(), snap.deployments if snap else (), use)

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cordon", "drain"):
            writable = self.able("clusters", action)
            if not writable:
                return False
            targets = self.targets()
            if targets and all(t.split("/")[0] not in writable for t in targets):
                return None
        return True

    def action_cordon(self, value: bool) -> None:
        targets = self.targets()
        if not targets:
            self.notify("no node selected", severity="warning")
            return
        word = "cordon" if value else "uncordon"
        self.cockpit.dispatch([f"node {word} {t}" for t in targets])

    def action_drain(self) -> None:
        key = self.table.cursor_key
        if self.table.marked:
            self.notify("drain acts on one node at a time: clear the marks (esc) first", severity="warning")
        elif key is not None:
            self.cockpit.dispatch([f"node drain {key}"])

    def action_gpu_only(self) -> None:
        self.gpu_only = not self.gpu_only
        self.inventory_changed()


def node_detail(n: KubeNode, now: datetime, deployments: tuple[Deployment, ...] = (),
                use: Content | None = None) -> Content:
    """The pane: short lines (it is 44 columns wide), GPUs first, then who holds them."""
    lines = [
        Content.from_markup("[b]$ref[/]  $s", ref=n.ref, s=status_text(n)),
        Content(f"{n.instance_type or '-'}  {n.zone or ''}  {n.version}  age {fmt.age(n.created_at, now)}"),
        Content(f"cpu {n.cpu_requested_m / 1000:g}/{n.cpu_allocatable_m / 1000:g}  "
                f"mem {fmt.mib(n.memory_requested_mib)}/{fmt.mib(n.memory_allocatable_mib)} requested"),
        Content.from_markup("[b]GPU[/] $p", p=n.gpu_product or "none"),
    ]
    if n.gpu_capacity:
        mem = f", {fmt.mib(n.gpu_memory_mib)} each" if n.gpu_memory_mib else ""
        lines.append(Content(f"  {n.gpu_allocated}/{n.gpu_allocatable} allocated, {n.gpu_free} free{mem}"))
    for s in n.mig:
        lines.append(Content(f"  MIG {s.profile}: {s.allocated}/{s.allocatable} allocated ({n.mig_strategy})"))
    if use is not None:
        lines.append(use)
    lines.append(Content.from_markup("[b]Pods[/] ($n, $g with GPUs)", n=str(len(n.pods)), g=str(len(n.gpu_pods))))
    for p in sorted(n.pods, key=lambda p: (-p.gpus, p.namespace, p.name))[:12]:
        held = f"{p.gpus}×" if p.gpus else " ".join(f"{k}×{prof}" for prof, k in p.mig) or "-"
        lines.append(Content(f"  {held:<2} {p.namespace}/{p.name}"))
        d = owning_deployment(p.namespace, p.owner, deployments)
        if d is not None and (p.gpus or p.mig):
            lines.append(Content.from_markup("     [$muted]↳ $d · $m[/]", d=d.name, m=d.model or "no model reference"))
    if len(n.pods) > 12:
        lines.append(Content(f"  … {len(n.pods) - 12} more (node show {n.ref})"))
    lines.append(Content.from_markup("[b]Taints[/]"))
    lines += [Content(f"  {t}") for t in n.taints] or [Content("  none")]
    lines.append(Content.from_markup("[b]Conditions[/]"))
    lines += [Content.from_markup(f"  $t [{'$success' if ok else '$error'}]$s[/] $r", t=c.type, s=c.status,
                                  r=c.reason)
              for c in n.conditions for ok in [(c.status == "True") == (c.type == "Ready")]] or [Content("  none")]
    lines.append(Content.from_markup("[$muted]c cordon · u uncordon · D drain · g GPU nodes[/]"))
    return Content("\n").join(lines)
