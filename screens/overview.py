"""Overview: per source, health and what it holds (machines by state, GPUs in use and free)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.allocation import budgets_now
from cockpit.costs import burn
from cockpit.freshness import STALE_MARK, Freshness
from cockpit.hub import Hub
from cockpit.model import HealthState, Machine, MachineState, SourceHealth
from cockpit.model_kube import KubeNode, product
from cockpit.model_metrics import NvmlState, PromSnapshot
from cockpit.prices import current
from cockpit.providers import provider
from cockpit.state.inventory import Inventory
from cockpit.state.schedule import describe
from screens.base import CockpitScreen
from screens.safe import safe


class OverviewScreen(CockpitScreen):
    VIEW = "overview"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview"):
            yield Static("", id="overview-sources")
            yield Static("", id="overview-gpus")
            yield Static("", id="overview-clusters")
            yield Static("", id="overview-other")

    def focus_main(self) -> None:
        self.query_one("#overview").focus()

    def inventory_changed(self) -> None:
        hub = self.cockpit.hub
        inv = self.cockpit.inventory
        lines = [Content.from_markup("[$error]⚠ did not finish:[/] $what [$muted](:ops)[/]", what=op.describe())
                 for op in self.cockpit.unfinished[-3:]]  # a crash or a lost session left these half done
        lines.append(Content.from_markup("[b]Sources[/]"))
        if not hub.sources():
            lines.append(Content("  none configured: write $XDG_CONFIG_HOME/cockpit/config.toml (see README) "
                                 "or run cockpit --demo"))
        for s in hub.sources():
            h = hub.health(s.name)
            state = describe(h, self.cockpit.source_polls.next_try(s.name))  # down since T · next try T2: why
            colour = {HealthState.OK: "$success", HealthState.DOWN: "$error", HealthState.DEGRADED: "$warning"}.get(
                h.state, "$muted")
            if s.kind == "kubernetes":
                snap = inv.clusters.get(s.name)
                lines.append(Content.from_markup(
                    f"  [b]$name[/] [$muted]$kind · $loc[/]  [{colour}]$state[/]", name=s.name, kind=s.kind,
                    loc=f"context {snap.context}" if snap else "-", state=state))
                if snap:
                    lines.append(Content(f"    {len(snap.nodes)} nodes · {snap.pod_count} pods · "
                                         f"{len(snap.deployments)} deployments · "
                                         f"{len(snap.inference_services)} InferenceServices"))
                continue
            if s.kind == "local":
                here = inv.local.get(s.name)
                lines.append(Content.from_markup(
                    f"  [b]$name[/] [$muted]this machine · $host[/]  [{colour}]$state[/]", name=s.name,
                    host=here.host.hostname if here else "-", state=state))
                if here:
                    gpu_text = (f"{len(here.gpus)} GPUs (driver {here.driver_version})" if here.nvml is NvmlState.OK
                                else f"{here.nvml.value}: {here.nvml_reason}")
                    lines.append(Content(f"    CPU {here.host.cpu_percent:.0f}% of {here.host.cpu_count} · memory "
                                         f"{fmt.mib(here.host.memory_used_mib)}/{fmt.mib(here.host.memory_total_mib)}"
                                         f" · {gpu_text}"))
                continue
            if s.kind == "prometheus":
                psnap = inv.series.get(s.name)
                fresh = inv.series_freshness(s.name, hub.now(), self.cockpit.refresh_s or None)
                lines += prometheus_lines(s.name, psnap, h, colour, fresh, state)
                continue
            if s.kind == "mlflow":
                lines.append(Content.from_markup(
                    f"  [b]$name[/] [$muted]$kind · model registry[/]  [{colour}]$state[/]", name=s.name,
                    kind=s.kind, state=state))
                lines.append(Content("    models, versions and aliases: `model list`, `model show NAME`"))
                continue
            machines = inv.machines.get(s.name, ())
            states = Counter(m.state for m in machines)
            on = [m for m in machines if m.state.is_on]
            counts = ", ".join(f"{n} {st.value}" for st, n in sorted(states.items(), key=lambda x: x[0].value))
            lines.append(Content.from_markup(
                f"  [b]$name[/] [$muted]$kind · $loc[/]  [{colour}]$state[/]",
                name=s.name, kind=s.kind, loc=_places(machines), state=state))
            if machines or inv.loaded:
                lines.append(Content(
                    f"    machines {len(machines)} ({counts or 'none'}) · running: "
                    f"{sum(m.vcpus for m in on)} vCPU, {fmt.mib(sum(m.memory_mib for m in on))}"))
        self.query_one("#overview-sources", Static).update(safe(Content("\n").join(lines)))

        glines = [Content.from_markup("[b]Host GPUs[/] [$muted](PCI passthrough)[/]")]
        for source, gpus in sorted(inv.gpus.items()):
            if not passthrough(hub, source):
                continue  # a cloud's GPUs come with its instance types, not from a host's PCI list
            if not gpus:
                glines.append(Content(f"  {source}: no GPUs in the host's PCI device list"))
                continue
            by_model = Counter(g.model for g in gpus)
            busy = [g for g in gpus if g.assigned_running]
            free = [g for g in gpus if not g.assigned_running]
            glines.append(Content.from_markup(
                "  [b]$src[/]  $models  in use [b]$busy[/]/$total  free: $free", src=source,
                models=", ".join(f"{n}×{m}" for m, n in by_model.items()), busy=str(len(busy)),
                total=str(len(gpus)), free=", ".join(g.pci_address for g in free) or "none"))
        if len(glines) == 1:
            glines.append(Content("  none known yet" if not inv.loaded else "  no machines source reports GPUs"))
        self.query_one("#overview-gpus", Static).update(safe(Content("\n").join(glines)))
        self.query_one("#overview-clusters", Static).update(safe(cluster_totals(self.cockpit.inventory,
                                                                                bool(hub.sources("clusters")))))

        b = burn(inv.all_machines(), current(), hub.config.onprem, inv.nodes())
        olines = [Content.from_markup("[b]Costs[/] [$muted](6 for the breakdown)[/]"),
                  Content.from_markup("  burn [b]$h[/]/h · $m per 30 days · $n priced$u", h=fmt.dollars(b.hourly),
                                      m=fmt.dollars(b.month), n=str(b.priced),
                                      u=f", {len(b.unpriced)} without a price" if b.unpriced else ""),
                  Content.from_markup("  [$muted]$c; HPC machines and bare-metal nodes from the on-prem model[/]",
                                      c=current().describe(hub.now().date()))]
        for use in budgets_now(b, hub.config.budgets, inv.clusters.values(), current(), hub.config.onprem):
            olines.append(Content.from_markup(
                "  budget [b]$s[/]  projected $p of $m ($r)" + ("  [$error]over by $o[/]" if use.over else ""),
                s=use.key, p=fmt.dollars(use.projected), m=fmt.dollars(use.budget), r=f"{use.ratio:.0%}",
                o=fmt.dollars(use.projected - use.budget)))
        running = sum(1 for m in inv.all_machines() if m.state is MachineState.RUNNING)
        olines.append(Content(""))
        olines.append(Content.from_markup("[$muted]$n machines running across $s sources. Press 2 for Machines, "
                                          ": for commands, ? for keys.[/]", n=str(running),
                                          s=str(len(hub.sources()))))
        self.query_one("#overview-other", Static).update(safe(Content("\n").join(olines)))



def passthrough(hub: Hub, source: str) -> bool:
    """Whether the source's kind lends GPUs by PCI passthrough (its provider descriptor says)."""
    kind = provider(hub.source(source).kind)
    return kind is not None and kind.host_gpus


def cluster_totals(inv: Inventory, configured: bool) -> Content:
    """Per cluster: nodes ready and not, and GPUs total/allocated/free per product."""
    lines = [Content.from_markup("[b]Kubernetes GPUs[/] [$muted](allocated = requests of running pods)[/]")]
    if not configured:
        lines.append(Content("  no Kubernetes source: add one to config.toml (see README) or run cockpit --demo"))
    for source, snap in sorted(inv.clusters.items()):
        ready = sum(1 for n in snap.nodes if n.ready)
        cordoned = sum(1 for n in snap.nodes if n.unschedulable)
        head = f"nodes {ready} ready, {len(snap.nodes) - ready} not ready" + (
            f", {cordoned} cordoned" if cordoned else "")
        problems = [snap.errors[k] for k in ("nodes", "pods") if k in snap.errors]
        lines.append(Content.from_markup("  [b]$src[/]  $head$err", src=source, head=head,
                                         err=f"  ({'; '.join(problems)})" if problems else ""))
        by_product: dict[str, list[KubeNode]] = {}
        for n in snap.nodes:
            if n.gpu_capacity or n.mig:
                by_product.setdefault(product(n), []).append(n)
        for name, nodes in sorted(by_product.items()):
            total = sum(n.gpu_allocatable for n in nodes)
            used = sum(n.gpu_allocated for n in nodes)
            free = sum(n.gpu_free for n in nodes)
            mig = [s for n in nodes for s in n.mig]
            text = f"{total} GPUs, {used} allocated, {free} free" if total else ""
            if mig:
                text += ("; " if text else "") + ", ".join(
                    f"MIG {s.profile} {s.allocated}/{s.allocatable}" for s in mig)
            lines.append(Content.from_markup("    $p  $t  [$muted]on $n[/]", p=f"{name:<16}", t=text,
                                             n=f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"))
    if configured and not inv.clusters:
        lines.append(Content("  none known yet" if not inv.loaded else "  no cluster answered"))
    return Content("\n").join(lines)


def prometheus_lines(name: str, snap: PromSnapshot | None, h: SourceHealth, colour: str,
                     fresh: Freshness | None = None, state: str | None = None) -> list[Content]:
    """A metrics source: its URL and health (`state`: as said, with its next try; else the
    health's own words), then GPUs (mean use, idle ones) and serving traffic; figures kept from
    before the source failed say so first, with their time."""
    lines = [Content.from_markup(f"  [b]$name[/] [$muted]prometheus · $url[/]  [{colour}]$state[/]", name=name,
                                 url=snap.url if snap else "-", state=h.describe() if state is None else state)]
    if snap is None:
        return lines
    util = snap.panel("gpu_util")
    now = [s.last for s in util.series if s.last is not None and not math.isnan(s.last)] if util else []
    rps = snap.panel("rps")
    traffic = sum(s.last for s in rps.series if s.last is not None and not math.isnan(s.last)) if rps else 0.0
    gpus = (f"{len(now)} GPUs, mean use {sum(now) / len(now):.0f}%, {sum(1 for v in now if v < 5)} idle (<5%)"
            if now else (util.reason if util and util.reason else "no GPU series"))
    serving = (f"{len(rps.series)} workloads, {traffic:,.0f} req/s" if rps and rps.series
               else (rps.reason if rps and rps.reason else "no request series"))
    if fresh is not None and fresh.stale:
        lines.append(Content.from_markup("    [$warning]$mark $when:[/] $g · $s", mark=STALE_MARK,
                                         when=fresh.describe(), g=gpus, s=serving))
    else:
        lines.append(Content(f"    {gpus} · {serving}"))
    return lines


def _places(machines: Sequence[Machine]) -> str:
    """A libvirt source's host; a cloud account's zones or regions (as many as fit)."""
    places = sorted({m.location for m in machines if m.location})
    text = ", ".join(places) or "-"
    return text if len(text) <= 48 else text[:47] + "…"
