"""Machines: every VM of every machines source in one table, with a detail pane and actions.

Actions go through the app's dispatcher, which plans them with the command registry, confirms
them and writes the audit log, exactly as `cockpit --script` would.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit import format as fmt
from cockpit.costs import OnPremModel, billed, machine_rate
from cockpit.model import Machine, MachineState
from cockpit.prices import current
from cockpit.promql import Figures
from cockpit.providers import Provider, provider
from screens.detail_table import DetailTableScreen
from screens.metric_columns import GPU_UTIL, figures, gpu_cells, gpu_line, machine_gpu, machine_gpu_why
from screens.widgets.virtual_table import Column, Row, VirtualTable, tag_style

STATE_STYLE = {
    MachineState.RUNNING.value: "vt--good", MachineState.STOPPED.value: "vt--dim",
    MachineState.PAUSED.value: "vt--warn", MachineState.SUSPENDED.value: "vt--warn",
    MachineState.STARTING.value: "vt--warn", MachineState.STOPPING.value: "vt--warn",
    MachineState.CRASHED.value: "vt--bad", MachineState.BLOCKED.value: "vt--warn",
    MachineState.UNKNOWN.value: "vt--bad", MachineState.TERMINATED.value: "vt--dim",
}

COLUMNS = (
    Column("name", "NAME", min_width=10, max_width=28, priority=0),
    Column("source", "SOURCE", min_width=6, max_width=14, priority=1),
    Column("provider", "PROV", min_width=4, max_width=7, priority=5),
    Column("state", "STATE", min_width=7, max_width=10, priority=0, style=STATE_STYLE.get),
    Column("type", "TYPE", min_width=4, max_width=20, priority=3),
    Column("vcpus", "VCPU", min_width=4, max_width=5, align="right", priority=2),
    Column("memory", "MEM", min_width=4, max_width=6, align="right", priority=2),
    Column("gpus", "GPUS", min_width=4, max_width=22, priority=0),
    GPU_UTIL,
    Column("cost", "$/H", min_width=5, max_width=8, align="right", priority=3),
    Column("cpu", "CPU%", min_width=4, max_width=5, align="right", priority=4),
    Column("address", "ADDRESS", min_width=7, max_width=16, priority=3),
    Column("uptime", "UPTIME", min_width=6, max_width=8, align="right", priority=4),
    Column("host", "HOST", min_width=4, max_width=14, priority=5),
    Column("tags", "TAGS", min_width=4, max_width=40, grow=True, priority=6),
)
ACTIONS = {"start": "start", "stop": "stop", "reboot": "reboot", "force_off": "force-off",
           "suspend": "suspend", "resume": "resume"}


def machine_row(m: Machine, now: datetime, colour: str | None, figures: Figures | None = None,
                onprem: OnPremModel | None = None) -> Row:
    """A VM's GPU% comes from a DCGM exporter inside it, whose Hostname is the VM's name; its $/H
    from the price catalogue or the on-prem model (`-` when off or when there is no price: the
    Costs screen says why)."""
    util = gpu_cells(machine_gpu(figures, m))[0]  # `-` unless it runs: a stopped VM's series is stale
    cost = fmt.dollars(machine_rate(m, current(), onprem or OnPremModel()).hourly) if billed(m) else "-"
    return Row(m.ref, (
        m.name, m.source, m.provider, m.state.value, fmt.machine_type(m, short=True), str(m.vcpus),
        fmt.mib(m.memory_mib),
        fmt.gpu_summary(m.gpus) or "-", util, cost,
        fmt.percent(m.cpu_percent), ",".join(m.addresses) or "-", fmt.age(m.started_at, now), m.location,
        " ".join(f"{k}={v}" for k, v in m.tags),
    ), style=tag_style(colour))


class MachinesScreen(DetailTableScreen):
    VIEW = "machines"
    PREFIX = "machines"
    COLUMNS = COLUMNS
    LOADING = "loading machines..."
    _selected_kinds: frozenset[str] = frozenset()

    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name, id, classes)
        self._drafts: dict[str, dict[str, str]] = {}
        """source -> the provision form's last submitted values, for as long as this screen lives."""
    """The kinds of the selected machines' sources, whose capabilities the footer shows."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="machines.filter"),
        Binding("s", "act('start')", "Start", id="machines.start"),
        Binding("x", "act('stop')", "Stop", id="machines.stop"),
        Binding("r", "act('reboot')", "Reboot", id="machines.reboot"),
        Binding("p", "act('suspend')", "Pause", id="machines.suspend"),
        Binding("u", "act('resume')", "Resume", id="machines.resume"),
        Binding("F", "act('force_off')", "Force off", id="machines.force_off"),
        Binding("ctrl+d", "destroy", "Destroy", id="machines.destroy"),
        Binding("n", "provision", "New", id="machines.provision"),
        Binding("d", "toggle_detail", "Detail", id="machines.detail"),
        Binding("y", "xml", "XML", id="machines.xml"),
    ]

    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        hub = self.cockpit.hub
        colours = self.source_colours()
        now = hub.now()
        machines = sorted(inv.all_machines(), key=lambda m: (m.source, m.name))
        figs = figures(self.cockpit)
        self.stale_note = figs.stale_note()
        onprem = hub.config.onprem
        self.show_rows([machine_row(m, now, colours.get(m.source), figs, onprem) for m in machines], noun="machines",
                       configured=bool(hub.sources("machines")), role="machines",
                       unconfigured="no machines source: add one to config.toml (see README) or run cockpit --demo")

    def summary_text(self) -> str:
        inv = self.cockpit.inventory
        machines = inv.all_machines()
        running = sum(1 for m in machines if m.state is MachineState.RUNNING)
        gpus = sum(len(m.gpus) for m in machines if m.state.is_on)
        total_gpus = sum(len(g) for g in inv.gpus.values())
        busy = sum(1 for g in inv.gpus.values() for x in g if x.assigned_running)
        text = f"{fmt.plural(len(machines), 'machine')}, {running} running · GPUs on running machines {gpus}"
        if total_gpus:
            text += f" · host GPUs passed through {busy}/{total_gpus}"
        for source, err in sorted(inv.errors.items()):
            text += f" · {source}: {err}"
        for source, why in sorted(inv.degraded.items()):
            text += f" · {source}: {why}"
        return text

    def detail_for(self, key: Hashable) -> Content | None:
        m = self.cockpit.inventory.find(str(key))
        if m is None:
            return None
        figs = figures(self.cockpit)
        use = gpu_line(machine_gpu(figs, m), machine_gpu_why(figs, m)) if m.gpus else None
        return detail_content(m, self.cockpit.hub.now(), use)

    # -- actions -----------------------------------------------------------------------------
    def _capable(self, capability: str, targets: list[str]) -> list[str]:
        """The targets whose source's kind can do it (its provider descriptor says)."""
        hub = self.cockpit.hub
        return [t for t in targets if _can(hub.source(t.split("/")[0]).kind, capability)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("act", "destroy", "provision"):
            return True
        capability = ACTIONS.get(str(parameters[0]), "") if action == "act" and parameters else action
        able = self.able("machines", capability)
        if not able:
            return False  # hidden: no source here may do it (read-only, or its kind cannot)
        if action == "provision":
            return True
        targets = [t for t in self.targets() if t.split("/")[0] in able]
        if self.targets() and not targets:
            return None  # shown disabled: the selection is on a read-only source, or one that cannot
        return True

    def on_virtual_table_cursor_moved(self, event: VirtualTable.CursorMoved) -> None:
        super().on_virtual_table_cursor_moved(event)
        # the footer shows what the selection can do: refreshed only when that changes
        kinds = frozenset(self.cockpit.hub.source(t.split("/")[0]).kind for t in self.targets()
                          if t.split("/")[0] in self._source_names())
        if kinds != self._selected_kinds:
            self._selected_kinds = kinds
            self.refresh_bindings()

    def _source_names(self) -> set[str]:
        return {s.name for s in self.cockpit.hub.sources("machines")}

    def action_act(self, action: str) -> None:
        targets = self.targets()
        if not targets:
            self.notify("no machine selected", severity="warning")
            return
        verb = ACTIONS[action]
        unable = [t for t in targets if t not in self._capable(verb, targets)]
        if unable:  # all or nothing: a bulk action never quietly leaves some of the marked out
            found = provider(self.cockpit.hub.source(unable[0].split("/")[0]).kind)
            why = found.cannot(verb) if found else "unknown kind"
            more = f" and {len(unable) - 1} more" if len(unable) > 1 else ""
            self.notify(f"nothing done: {unable[0]}{more} cannot ({why}); unmark it (space) and try again",
                        title=f"vm {verb}", severity="error", timeout=10)
            return
        self.cockpit.dispatch([f"vm {verb} {t}" for t in targets])

    def action_destroy(self) -> None:
        key = self.table.cursor_key
        if self.table.marked:
            self.notify("destroy acts on one machine at a time: clear the marks (esc) first", severity="warning")
            return
        if key is not None:
            found = provider(self.cockpit.hub.source(str(key).split("/")[0]).kind)
            self.cockpit.dispatch([f"vm {found.destroy_verb if found else 'destroy'} {key}"])

    def action_provision(self) -> None:
        """The provision form of the source under the cursor; it writes the `vm provision` line,
        which then plans and confirms like any other (the `:` line takes it too)."""
        key = self.table.cursor_key
        hub = self.cockpit.hub
        sources = [s.name for s in hub.sources("machines") if s.name in self.able("machines", "provision")]
        source = str(key).split("/")[0] if key and str(key).split("/")[0] in sources else (sources or [""])[0]
        if not source:
            return
        cfg = hub.source(source)
        kind = provider(cfg.kind)
        if kind is None or not kind.form:
            self.action_command_line(f"vm provision {source}/")
            return
        where = (cfg.settings.get(kind.where_setting) or [""])[0] if kind.where_setting else ""
        here = self.cockpit.inventory.find(str(key)) if key is not None and str(key).startswith(source + "/") else None
        if here is not None and kind.where in ("zone", "region"):  # where the selected machine is
            where = here.location if kind.where == "zone" else kind.region(here.location)
        # what was typed last time on this source comes back: a refused plan or a cancelled
        # confirmation must not cost a person the whole form
        self._open_form(source, kind, self._drafts.get(source) or {"where": str(where)})

    def _open_form(self, source: str, kind: Provider, values: dict[str, str], error: str | None = None) -> None:
        """The form, and again with what was typed and the error when the plan is refused or the
        provision fails (a `no template 'gpu'` or a GPU in use used to close it and lose the lot)."""
        from screens.provision_choices import form_choices
        from screens.widgets.provision_form import ProvisionScreen

        form = ProvisionScreen(source, kind.kind, values, error=error,
                               choices=form_choices(lambda: self.cockpit.inventory, source, kind))

        def chosen(line: str | None) -> None:
            if line:
                draft = self._drafts[source] = form.draft()
                self.cockpit.dispatch([line], on_failed=lambda message: self._open_form(source, kind, draft, message))

        self.app.push_screen(form, chosen)

    def action_xml(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.cockpit.dispatch([f"vm xml {key}"])


def _can(kind: str, capability: str) -> bool:
    found = provider(kind)
    return found is not None and found.can(capability)


def detail_content(m: Machine, now: datetime, use: Content | None = None) -> Content:
    lines = [
        Content.from_markup("[b]$ref[/]", ref=m.ref),
        Content.from_markup("[$muted]state[/]    $s", s=fmt.state_text(m.state.value, m.native_state)),
        Content.from_markup("[$muted]host[/]     $h ($p)", h=m.location, p=m.provider),
        Content.from_markup("[$muted]size[/]     $c vCPU, $mem", c=str(m.vcpus), mem=fmt.mib(m.memory_mib)),
        Content.from_markup("[$muted]uptime[/]   $u   [$muted]cpu[/] $p", u=fmt.age(m.started_at, now),
                            p=fmt.percent(m.cpu_percent)),
        Content.from_markup("[$muted]address[/]  $a", a=", ".join(m.addresses) or "-"),
        Content.from_markup("[$muted]type[/]     $t", t=fmt.machine_type(m)),
        Content.from_markup("[$muted]tags[/]     $t", t=" ".join(f"{k}={v}" for k, v in m.tags) or "-"),
        Content.from_markup("[b]GPUs[/] ($n)", n=str(len(m.gpus))),
    ]
    if any(g.pci_address for g in m.gpus):  # passed through: each has its own address on the host
        lines += [Content.from_markup("  $a  $m", a=g.pci_address or "-", m=g.model) for g in m.gpus]
    else:  # a cloud size's GPUs are alike and have no address to show
        models = {g.model: g for g in m.gpus}
        lines += [Content.from_markup("  $n×$m", n=str(sum(x.model == model for x in m.gpus)), m=model
                                      + (f", {fmt.mib(g.memory_mib)} each" if g.memory_mib else ""))
                  for model, g in models.items()] or [Content("  none")]
    if use is not None:
        lines.append(use)
    if m.provider != "libvirt":  # a cloud instance's disks and NICs are not read (vm xml shows its definition)
        return Content("\n").join(lines)
    lines.append(Content.from_markup("[b]Disks[/]"))
    lines += [Content.from_markup("  $t  $s", t=d.target, s=d.source) for d in m.disks] or [Content("  none")]
    lines.append(Content.from_markup("[b]NICs[/]"))
    lines += [Content.from_markup("  $mac  $net", mac=n.mac, net=n.network) for n in m.nics] or [Content("  none")]
    return Content("\n").join(lines)
