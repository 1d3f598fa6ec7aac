"""Overview: per source, health and what it holds (machines by state, GPUs in use and free)."""

from __future__ import annotations

from collections import Counter

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from cockpit import format as fmt
from cockpit.model import HealthState, MachineState
from screens.base import CockpitScreen

OTHER_AREAS = (
    ("Kubernetes nodes & GPUs", "kubernetes"),
    ("Model registry", "MLflow"),
    ("Deployments", "Kubernetes"),
    ("Costs", "cost"),
    ("Metrics", "Prometheus"),
)


class OverviewScreen(CockpitScreen):
    VIEW = "overview"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview"):
            yield Static("", id="overview-sources")
            yield Static("", id="overview-gpus")
            yield Static("", id="overview-other")

    def focus_main(self) -> None:
        self.query_one("#overview").focus()

    def inventory_changed(self) -> None:
        hub = self.cockpit.hub
        inv = self.cockpit.inventory
        lines = [Content.from_markup("[b]Sources[/]")]
        if not hub.sources():
            lines.append(Content("  none configured: write $XDG_CONFIG_HOME/cockpit/config.toml (see README) "
                                 "or run cockpit --demo"))
        for s in hub.sources():
            h = hub.health(s.name)
            colour = {HealthState.OK: "$success", HealthState.DOWN: "$error", HealthState.DEGRADED: "$warning"}.get(
                h.state, "$muted")
            machines = inv.machines.get(s.name, ())
            states = Counter(m.state for m in machines)
            on = [m for m in machines if m.state.is_on]
            counts = ", ".join(f"{n} {st.value}" for st, n in sorted(states.items(), key=lambda x: x[0].value))
            lines.append(Content.from_markup(
                f"  [b]$name[/] [$muted]$kind · $loc[/]  [{colour}]$state[/]",
                name=s.name, kind=s.kind, loc=machines[0].location if machines else "-", state=h.state.value
                + (f": {h.reason}" if h.reason and h.state is not HealthState.OK else "")))
            if machines or inv.loaded:
                lines.append(Content(
                    f"    machines {len(machines)} ({counts or 'none'}) · running: "
                    f"{sum(m.vcpus for m in on)} vCPU, {fmt.mib(sum(m.memory_mib for m in on))}"))
        self.query_one("#overview-sources", Static).update(Content("\n").join(lines))

        glines = [Content.from_markup("[b]Host GPUs[/] [$muted](PCI passthrough)[/]")]
        for source, gpus in sorted(inv.gpus.items()):
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
        self.query_one("#overview-gpus", Static).update(Content("\n").join(glines))

        olines = [Content.from_markup("[b]Not available yet[/]")]
        for area, what in OTHER_AREAS:
            olines.append(Content.from_markup("  $a [$muted]— this version has no $w backend[/]", a=area, w=what))
        running = sum(1 for m in inv.all_machines() if m.state is MachineState.RUNNING)
        olines.append(Content(""))
        olines.append(Content.from_markup("[$muted]$n machines running across $s sources. Press 2 for Machines, "
                                          ": for commands, ? for keys.[/]", n=str(running),
                                          s=str(len(hub.sources()))))
        self.query_one("#overview-other", Static).update(Content("\n").join(olines))

