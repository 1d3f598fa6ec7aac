"""The Costs screen: what the fleet burns per hour now and over 30 days, the top spenders, and the
same money grouped by provider, source or region, and the clusters' cost split across namespaces
and workloads by pod requests, idle capacity as its own line (`b` cycles). Every figure comes from the cost
engine over the inventory the other screens show; the summary names the price catalogue and its
age, and a machine without a price says why instead of counting as $0."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit import format as fmt
from cockpit.allocation import IDLE, NAMESPACE, WORKLOAD, Allocation, Share, allocate, budgets_now
from cockpit.costs import (
    HOURS_PER_MONTH,
    ONPREM,
    BudgetUse,
    Burn,
    Line,
    Rate,
    billed,
    burn,
    machine_rate,
    node_provider,
    node_rate,
    place,
    provider_group,
)
from cockpit.prices import current
from cockpit.spend import month_to_date
from cockpit.state.idle import gpu_peaks
from cockpit.state.offers import free_hpc, offered
from cockpit.state.spend import SpendAnswer, billed_sources, gather_spend
from cockpit.waste import THRESHOLD, WINDOW, GpuPeak, Waste, idle_gpus
from screens import costs_spend as spend
from screens.detail_table import DetailTableScreen
from screens.offer_form import provision_offer
from screens.widgets.compare_form import CompareScreen
from screens.widgets.virtual_table import Column, Row, tag_style

IDLE_GPUS = "idle GPUs"
GROUPS = ("machine", "provider", "source", "region", NAMESPACE, WORKLOAD, IDLE_GPUS, spend.SPEND, spend.BUDGETS)
WASTE_EVERY_S = 60.0
"""How often the idle-GPU query runs again while that grouping is shown (it asks for an hour of data)."""
SPEND_EVERY_S = 300.0
"""How often the billing is asked again while the spend grouping is shown (answers are kept an hour)."""
COLUMNS = (
    Column("name", "NAME", min_width=10, max_width=28, priority=0),
    Column("source", "SOURCE", min_width=6, max_width=14, priority=1),
    Column("type", "TYPE", min_width=4, max_width=24, priority=3),
    Column("state", "STATE", min_width=5, max_width=9, priority=2),
    Column("hourly", "$/HOUR", min_width=7, max_width=10, align="right", priority=0),
    Column("month", "$/30 DAYS", min_width=9, max_width=12, align="right", priority=1),
    Column("share", "SHARE", min_width=5, max_width=6, align="right", priority=2),
    Column("basis", "PRICE FROM", min_width=8, max_width=60, grow=True, priority=4),
)
HEADINGS = {
    "provider": ("PROVIDER", "SOURCES", "MACHINES", "OFF", "PRICED BY"),
    "source": ("SOURCE", "PROVIDER", "MACHINES", "OFF", "PRICED BY"),
    "region": ("REGION", "PROVIDER", "MACHINES", "OFF", "PRICED BY"),
    NAMESPACE: ("NAMESPACE", "CLUSTER", "TYPE", "PODS", "SPLIT"),
    WORKLOAD: ("WORKLOAD", "CLUSTER", "KIND", "PODS", "SPLIT"),
    IDLE_GPUS: ("WHERE", "GPU", "MODEL", "PEAK", "HELD BY"),
}
"""What the NAME, SOURCE, TYPE, STATE and PRICE FROM columns hold in the groupings that are not
machines: each grouping has a header of its own, never the machine list's (a provider has no TYPE)."""
COUNTS = ("provider", "source", "region")
"""Groupings whose TYPE and STATE columns hold counts (right-aligned under MACHINES and OFF)."""


def _due(last: float | None, now: float, every: float) -> bool:
    """Whether a question asked at `last` (None: never) is to be asked again at `now`."""
    return last is None or now - last > every


def columns_for(group: str) -> tuple[Column, ...]:
    """The grouping's own headings. A column the grouping leaves empty has no heading and no
    width (the table keeps its number of cells), so no heading stands over nothing."""
    names = HEADINGS.get(group)
    relabel = dict(zip(("name", "source", "type", "state", "basis"), names, strict=True)) if names else {}
    if group in (spend.SPEND, spend.BUDGETS):
        relabel = spend.HEADINGS if group == spend.SPEND else spend.BUDGET_HEADINGS
    out = []
    for c in COLUMNS:
        c = replace(c, label=relabel.get(c.key, c.label))
        if not c.label:
            c = replace(c, min_width=0, max_width=0, priority=9)
        elif group in COUNTS and c.key in ("type", "state"):
            c = replace(c, align="right", min_width=len(c.label))
        out.append(c)
    return tuple(out)


class CostsScreen(DetailTableScreen):
    VIEW = "costs"
    PREFIX = "costs"
    COLUMNS = COLUMNS
    LOADING = "loading machines to price..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="costs.filter"),
        Binding("b", "group", "Group by", id="costs.group"),
        Binding("c", "compare", "Compare", id="costs.compare"),
        Binding("d", "toggle_detail", "Detail", id="costs.detail"),
    ]
    group = "machine"
    _burn: Burn | None = None
    _alloc: Allocation | None = None
    _rates: dict[str, Priced] = {}
    _waste: Waste | None = None
    _peaks: list[GpuPeak] | None = None
    _waste_error: str = ""
    _waste_at: float | None = None  # None: never asked (a monotonic clock may read near 0 after boot)
    _spend: SpendAnswer | None = None
    _uses: list[BudgetUse] = []
    _spend_at: float | None = None
    monotonic: Callable[[], float] = staticmethod(time.monotonic)
    """The clock the two intervals above are timed by (a test gives its own)."""

    def inventory_changed(self) -> None:
        self.table.set_columns(columns_for(self.group))
        hub = self.cockpit.hub
        inv = self.cockpit.inventory
        machines, nodes = inv.all_machines(), inv.nodes()
        cat = current()
        onprem = hub.config.onprem
        self._burn = burn(machines, cat, onprem, nodes)
        self._rates = {m.ref: Priced(m.ref, m.name, m.source, fmt.machine_type(m, short=True), m.state.value,
                                     machine_rate(m, cat, onprem), billed(m), _key_of(m.provider, m.location),
                                     full_kind=fmt.machine_type(m))
                       for m in machines}
        for n in nodes:
            provider = node_provider(n, cat)
            ref = f"{n.source}/{n.name}"
            self._rates[ref] = Priced(ref, n.name, n.source, n.instance_type or "-", n.status,
                                      node_rate(n, cat, onprem), True, _key_of(provider or ONPREM, n.zone),
                                      node=True)
        if self.group == IDLE_GPUS:
            self._show_waste()
            return
        if self.group == spend.SPEND:
            self._show_spend()
            return
        if self.group == spend.BUDGETS:
            self._uses = budgets_now(self._burn, hub.config.budgets, inv.clusters.values(), cat, onprem)
            charged = {s.source: s.total for s in self._spend.spends} if self._spend else {}
            self.show_rows(spend.budget_rows(self._uses, charged), noun="budgets", configured=bool(hub.config.budgets),
                           unconfigured="no budgets: add [costs.budgets] to config.toml, a source or a cluster's "
                                        "\"SOURCE/NAMESPACE\" = $ per month (see README)")
            return
        if self.group in (NAMESPACE, WORKLOAD):
            self._alloc = allocate(inv.clusters.values(), cat, onprem)
            self.show_rows(self._allocation_rows(), noun="lines", configured=bool(hub.sources("clusters")),
                           role="clusters", unconfigured="no Kubernetes source to split by namespace: add one to "
                                                         "config.toml (see README) or run cockpit --demo")
            return
        rows = self._machine_rows() if self.group == "machine" else self._group_rows()
        self.show_rows(rows, noun="machines", configured=bool(hub.sources("machines")), role="machines",
                       unconfigured="no machines source to price: add one to config.toml (see README) or run "
                                    "cockpit --demo")

    def _share(self, hourly: float) -> str:
        total = self._burn.hourly if self._burn else 0.0
        return f"{hourly / total:.0%}" if total else "-"

    def _machine_rows(self) -> list[Row]:
        colours = self.source_colours()

        def order(p: Priced) -> tuple[float, str]:
            return (-(p.rate.hourly or 0.0) if p.on else 1.0, p.ref)

        rows = []
        for p in sorted(self._rates.values(), key=order):
            rate, on, hourly = p.rate, p.on, p.rate.hourly
            rows.append(Row(p.ref, (
                p.name, p.source, p.kind, p.state,
                ("no price" if hourly is None else fmt.dollars(hourly)) if on else "off",
                fmt.dollars(hourly * HOURS_PER_MONTH) if on and hourly is not None else "-",
                self._share(hourly) if on and hourly else "-",
                (rate.basis if on else f"off ({rate.basis or 'no price'} when on)") if rate.hourly is not None
                else rate.why,
            ), style=tag_style(colours.get(p.source))))
        return rows

    def _lines(self) -> tuple[Line, ...]:
        assert self._burn is not None
        return {"provider": self._burn.by_provider, "source": self._burn.by_source,
                "region": self._burn.by_region}[self.group]

    def _group_rows(self) -> list[Row]:
        """A line per provider, source or region: its sources (or its provider), how many of its
        machines are billed and priced, how many are off, and what prices them."""
        rows = []
        for line in self._lines():
            members = [p for p in self._rates.values() if p.key(self.group) == line.key]
            if self.group == "provider":
                second = ", ".join(sorted({p.source for p in members}))
            else:
                second = ", ".join(sorted({p.where[0] for p in members}))
            off = sum(1 for p in members if not p.on)
            rows.append(Row(f"{self.group}:{line.key}", (
                line.key, second, str(line.machines), str(off) if off else "-", fmt.dollars(line.hourly),
                fmt.dollars(line.hourly * HOURS_PER_MONTH), self._share(line.hourly), _priced_by(members),
            )))
        return rows

    # -- idle GPUs ------------------------------------------------------------------------------
    def _prom_sources(self) -> list[str]:
        return [s.name for s in self.cockpit.hub.sources("series") if s.kind == "prometheus"]

    def _show_waste(self) -> None:
        names = self._prom_sources()
        if names and _due(self._waste_at, self.monotonic(), WASTE_EVERY_S):
            self._waste_at = self.monotonic()
            self.run_worker(lambda: self._load_waste(names), thread=True, group="waste", exit_on_error=False)
        # the peaks are asked for once a minute; the join to machines and nodes follows every refresh
        inv, hub = self.cockpit.inventory, self.cockpit.hub
        self._waste = w = None if self._peaks is None else idle_gpus(
            self._peaks, inv.all_machines(), list(inv.clusters.values()), current(), hub.config.onprem)
        rows = [] if w is None else [Row(f"idle:{g.where}/{g.gpu}", (
            g.where, g.gpu, g.model or "-", f"{g.peak:.1f}%",
            fmt.dollars(g.hourly) if g.hourly is not None else "no price",
            fmt.dollars(g.hourly * HOURS_PER_MONTH) if g.hourly is not None else "-",
            self._share_of_waste(g.hourly), ", ".join(g.holders) or g.why,
        )) for g in w.idle]
        self.show_rows(rows, noun="idle GPUs", configured=bool(names), role="series",
                       unconfigured="idle GPUs need DCGM utilisation from Prometheus: add [sources.NAME] kind = "
                                    "\"prometheus\" to config.toml (see README) or run cockpit --demo",
                       problems=[self._waste_error] if self._waste_error else ())

    def _share_of_waste(self, hourly: float | None) -> str:
        total = self._waste.hourly if self._waste else 0.0
        return f"{hourly / total:.0%}" if hourly and total else "-"

    def _load_waste(self, names: list[str]) -> None:
        """In a worker: each GPU's peak over the window, from every Prometheus source."""
        peaks, error = gpu_peaks(self.cockpit.hub, names, WINDOW)

        def done() -> None:
            self._peaks, self._waste_error = peaks, error.message if error and not peaks else ""
            if self.group == IDLE_GPUS:
                self.inventory_changed()

        self.app.call_from_thread(done)

    # -- spend ---------------------------------------------------------------------------------
    def _burns(self) -> dict[str, float]:
        return {line.key: line.hourly for line in self._burn.by_source} if self._burn else {}

    def _show_spend(self) -> None:
        hub = self.cockpit.hub
        names = billed_sources(hub)
        if names and _due(self._spend_at, self.monotonic(), SPEND_EVERY_S):
            self._spend_at = self.monotonic()
            self.run_worker(lambda: self._load_spend(names), thread=True, group="spend", exit_on_error=False)
        answer = self._spend
        rows = [] if answer is None else spend.rows(answer, self._burns(), hub.now(), self.source_colours())
        problems = [answer.error.message] if answer is not None and answer.error is not None else []
        self.show_rows(rows, noun="charges", configured=bool(names), role="machines", problems=problems,
                       unconfigured="actual spend comes from AWS Cost Explorer and Azure Cost Management: add an aws "
                                    "or azure source to config.toml (see README) or run cockpit --demo")

    def _load_spend(self, names: list[str]) -> None:
        """In a worker: the month to date from each cloud's billing (kept an hour)."""
        hub = self.cockpit.hub
        answer = gather_spend(hub, names, *month_to_date(hub.now().date()))

        def done() -> None:
            self._spend = answer
            if self.group == spend.SPEND:
                self.inventory_changed()

        self.app.call_from_thread(done)

    def _allocation_rows(self) -> list[Row]:
        assert self._alloc is not None
        total = self._alloc.hourly
        colours = self.source_colours()
        rows = []
        for share in self._alloc.by(self.group):
            source, _, rest = share.key.partition("/")
            ns, _, workload = rest.partition("/")
            kind, _, name = workload.partition("/")
            if share.key == IDLE:
                cells = (IDLE, "", "unrequested", fmt.plural(share.pods, "node"))
            else:
                cells = (f"{ns}/{name}" if workload else ns, source, kind or "namespace", fmt.plural(share.pods, "pod"))
            rows.append(Row(f"{self.group}:{share.key}", (
                *cells, fmt.dollars(share.hourly), fmt.dollars(share.hourly * HOURS_PER_MONTH),
                f"{share.hourly / total:.0%}" if total else "-", _split(share),
            ), style=tag_style(colours.get(source)) if share.key != IDLE else None))
        return rows

    def summary_text(self) -> str:
        if self.group == spend.BUDGETS:
            return spend.budget_summary(self._uses)
        if self.group == spend.SPEND:
            return spend.summary(self._spend, self._burns(), self.cockpit.hub.now())
        if self.group == IDLE_GPUS:
            w = self._waste
            if w is None:
                return "idle GPUs: asking Prometheus for each GPU's peak over the last hour..."
            if self._waste_error:  # unknown, not "0 of 0"
                return f"idle GPUs unknown: {self._waste_error}"
            if not w.checked:
                return "idle GPUs unknown: Prometheus has no GPU utilisation series (DCGM_FI_DEV_GPU_UTIL)"
            return (f"{len(w.idle)} of {fmt.plural(w.checked, 'GPU')} under {w.threshold:g}% for {w.window} · waste "
                    f"{fmt.dollars(w.hourly)}/h, {fmt.dollars(w.daily)}/day · "
                    f"{current().describe(self.cockpit.hub.now().date())} · by {self.group}")
        if self.group in (NAMESPACE, WORKLOAD) and self._alloc is not None:
            a = self._alloc
            idle = sum(h for _, h in a.idle)
            text = (f"clusters {fmt.dollars(a.hourly)}/h · {fmt.dollars(a.hourly * HOURS_PER_MONTH)}/30d split by "
                    f"pod requests · idle {fmt.dollars(idle)}/h" + (f" ({idle / a.hourly:.0%})" if a.hourly else ""))
            if a.unpriced:
                text += f", {fmt.plural(len(a.unpriced), 'node')} without a price (not counted)"
            return text + f" · {current().describe(self.cockpit.hub.now().date())} · by {self.group}"
        b = self._burn
        if b is None:
            return "no machines priced yet"
        text = f"burn {fmt.dollars(b.hourly)}/h · {fmt.dollars(b.month)}/30d · {b.priced} priced"
        if b.unpriced:
            text += f", {len(b.unpriced)} without a price (not counted)"
        return text + f" · {current().describe(self.cockpit.hub.now().date())} · by {self.group}"

    def detail_for(self, key: Hashable) -> Content | None:
        if self.group == spend.SPEND:
            return spend.detail(self._spend, str(key), self._burns(), self.cockpit.hub.now())
        if self.group == IDLE_GPUS:
            return self._idle_detail(str(key))
        if self.group in (NAMESPACE, WORKLOAD) and str(key).startswith(f"{self.group}:"):
            return self._allocation_detail(str(key).split(":", 1)[1])
        if str(key).startswith(f"{self.group}:"):
            return self._group_detail(str(key).split(":", 1)[1])
        p = self._rates.get(str(key))
        if p is None:
            return None
        rate, on = p.rate, p.on
        cat = current()
        lines = [
            Content.from_markup("[b]$ref[/]" + (" [$muted](Kubernetes node)[/]" if p.node else ""), ref=p.ref),
            Content.from_markup("[$muted]type[/]     $t", t=p.full_kind or p.kind),
            Content.from_markup("[$muted]where[/]    $r", r=p.where[1] if p.where[0] == p.where[1]
                                else f"{p.where[1]} ({p.where[0]})"),
            Content.from_markup("[$muted]state[/]    $s", s=p.state + ("" if on else ": not billed by the hour")),
        ]
        if rate.hourly is None:
            lines.append(Content.from_markup("[$warning]$w[/]", w=rate.why))
        else:
            lines += [Content.from_markup("[$muted]rate[/]     $h/h when on, $mo per 30 days",
                                          h=fmt.dollars(rate.hourly), mo=fmt.dollars(rate.hourly * HOURS_PER_MONTH)),
                      Content.from_markup("[$muted]price[/]    $b", b=rate.basis)]
        source = ("the on-prem cost model ([costs.onprem] in config.toml)" if rate.basis == "on-prem model"
                  else cat.describe(self.cockpit.hub.now().date()))
        lines.append(Content.from_markup("[$muted]from[/]     $s", s=source))
        return Content("\n").join(lines)

    def _group_detail(self, key: str) -> Content:
        members = [p for p in self._rates.values() if p.on and p.rate.hourly is not None and p.key(self.group) == key]
        members.sort(key=lambda p: -(p.rate.hourly or 0.0))
        lines = [Content.from_markup("[b]$k[/] [$muted]($g)[/]", k=key, g=self.group)]
        lines += [Content.from_markup("  $h  $r", h=fmt.dollars(p.rate.hourly).rjust(9), r=p.ref) for p in members]
        return Content("\n").join(lines)

    def _idle_detail(self, key: str) -> Content | None:
        g = next((g for g in (self._waste.idle if self._waste else ()) if f"idle:{g.where}/{g.gpu}" == key), None)
        if g is None:
            return None
        lines = [Content.from_markup("[b]$w[/] GPU $g [$muted]($m)[/]", w=g.where, g=g.gpu, m=g.model or "-"),
                 Content.from_markup("[$muted]peak[/]     $p over the last $win (under $t%)", p=f"{g.peak:.1f}%",
                                     win=WINDOW, t=f"{THRESHOLD:g}")]
        if g.hourly is None:
            lines.append(Content.from_markup("[$warning]$w[/]", w=g.why))
        else:
            lines.append(Content.from_markup("[$muted]wasting[/]  $h/h, $d/day, $mo per 30 days",
                                             h=fmt.dollars(g.hourly), d=fmt.dollars(g.daily),
                                             mo=fmt.dollars(g.hourly * HOURS_PER_MONTH)))
        lines.append(Content.from_markup("[b]Held by[/]"))
        lines += [Content(f"  {h}") for h in g.holders] or [Content("  -")]
        return Content("\n").join(lines)

    def _allocation_detail(self, key: str) -> Content:
        a = self._alloc
        lines = [Content.from_markup("[b]$k[/] [$muted](by $g; requests x the node's prices)[/]", k=key, g=self.group)]
        if a is None:
            return lines[0]
        if key == IDLE:
            lines.append(Content.from_markup("[$muted]capacity no pod requested, and what the kubelet reserves[/]"))
            lines += [Content.from_markup("  $h  $n", h=fmt.dollars(h).rjust(9), n=ref)
                      for ref, h in sorted(a.idle, key=lambda x: -x[1]) if h]
            lines += [Content.from_markup("  [$warning]$n: $w[/]", n=ref, w=why) for ref, why in a.unpriced]
            return Content("\n").join(lines)
        pods = sorted((p for p in a.pods if (f"{p.source}/{p.namespace}" if self.group == NAMESPACE
                                             else f"{p.source}/{p.namespace}/{p.workload}") == key),
                      key=lambda p: (-p.hourly, p.pod))
        for p in pods[:40]:
            lines += [Content.from_markup("  $h  $p", h=fmt.dollars(p.hourly).rjust(9), p=p.pod),
                      Content.from_markup("  [$muted]           on $n: GPU $g CPU $c MEM $m[/]", n=p.node,
                                          g=fmt.dollars(p.gpu), c=fmt.dollars(p.cpu), m=fmt.dollars(p.memory))]
        if len(pods) > 40:
            lines.append(Content(f"  ... and {fmt.plural(len(pods) - 40, 'more pod')}"))
        return Content("\n").join(lines)

    def action_compare(self) -> None:
        """The comparator dialog. Each offer is checked against its cloud (does the region sell the
        type); one chosen there opens the provision form of a writable source in that cloud, over the
        dialog, so that Esc comes back to the offers."""
        hub = self.cockpit.hub
        cat = current()
        self.app.push_screen(CompareScreen(cat, hub.config.onprem, cat.describe(hub.now().date()),
                                           lambda gpu: free_hpc(hub, gpu)[0],
                                           offered=lambda cloud, region, types: offered(hub, cloud, region, types),
                                           open_offer=lambda choice: provision_offer(self, choice)))

    def action_group(self) -> None:
        self.group = GROUPS[(GROUPS.index(self.group) + 1) % len(GROUPS)]
        self.inventory_changed()
        if self.table.visible_keys():
            self.table.move_to(self.table.visible_keys()[0])


@dataclass(frozen=True, slots=True)
class Priced:
    """A row of the screen: a machine or a Kubernetes node, with its rate."""

    ref: str
    name: str
    source: str
    kind: str
    state: str
    rate: Rate
    on: bool
    where: tuple[str, str]
    """(provider, region or host): what the provider and region groups go by."""
    node: bool = False
    full_kind: str = ""
    """The type unabridged, for the detail pane (the table drops Azure's `Standard_`)."""

    def key(self, group: str) -> str:
        return {"provider": self.where[0], "source": self.source}.get(group, self.where[1])


def _priced_by(members: list[Priced]) -> str:
    """What prices a group's billed machines (`on-demand, spot`, `on-prem model`), and how many of
    them have no price (left out of its $/h, never counted as $0)."""
    bases: list[str] = []
    for p in members:
        if p.on and p.rate.hourly is not None and p.rate.basis not in bases:
            bases.append(p.rate.basis)
    unpriced = sum(1 for p in members if p.on and p.rate.hourly is None)
    text = ", ".join(sorted(bases))
    return text + (f"; {fmt.plural(unpriced, 'machine')} without a price" if unpriced else "")


def _split(share: Share) -> str:
    if share.key == IDLE:
        return "node capacity no pod requested"
    return f"GPU {fmt.dollars(share.gpu)} · CPU {fmt.dollars(share.cpu)} · MEM {fmt.dollars(share.memory)}"


def _key_of(provider: str, location: str) -> tuple[str, str]:
    """(provider grouping, region grouping): libvirt VMs group under `on-prem` by provider, under
    their host by region."""
    return provider_group(provider), place(provider, location)
