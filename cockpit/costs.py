"""The cost engine: what each machine costs per hour now, and the burn rate of a fleet, from the
price catalogue (clouds) and an on-prem cost model (libvirt hosts). Pure functions over model
records: no SDK, no I/O, so every figure can be computed by hand in a test.

A machine whose price is unknown is not counted as free: it is listed with the reason
("no price for n1-standard-8 in europe-west4"), and totals say how many were left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cockpit.model import Machine, MachineState
from cockpit.model_kube import KubeNode
from cockpit.prices import Catalogue
from cockpit.providers import PROVIDERS, clouds, provider, region_of

HOURS_PER_MONTH = 24 * 30
"""A 30-day month, as the projection says."""
ONPREM = "on-prem"
"""The provider grouping's name for everything priced by the on-prem model: HPC VMs on libvirt hosts
and bare-metal Kubernetes nodes are one provider (our own hardware), not `libvirt` and `on-prem`."""


@dataclass(frozen=True, slots=True)
class OnPremModel:
    """$ per hour of what an HPC VM holds: GPUs by model, vCPUs and GiB of memory.

    The defaults are a starting point, not anyone's bill: GPU rates near 40% of the clouds'
    on-demand price per GPU (hardware over four years, power and hosting), and CPU and memory
    rates of a mid-range server. Put your own in `[costs.onprem]`."""

    gpu_hour: Mapping[str, float] = field(default_factory=lambda: {
        "H200": 2.60, "H100": 2.20, "A100": 1.30, "L40S": 0.90, "A10": 0.55, "L4": 0.40, "V100": 0.60, "T4": 0.20})
    """GPU model (matched as a word in the model name, longest first) -> $ per GPU-hour."""
    gpu_hour_default: float = 1.00
    vcpu_hour: float = 0.015
    gib_hour: float = 0.002

    def gpu_rate(self, model: str) -> float:
        words = model.upper().replace("-", " ").split()
        for key in sorted(self.gpu_hour, key=len, reverse=True):
            if key.upper() in words:
                return self.gpu_hour[key]
        return self.gpu_hour_default


@dataclass(frozen=True, slots=True)
class Rate:
    """A machine's cost per hour now, or why there is none."""

    hourly: float | None
    basis: str
    """`on-demand`, `spot` (from the catalogue) or `on-prem model`; empty when there is no price."""
    why: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    key: str
    hourly: float
    machines: int


@dataclass(frozen=True, slots=True)
class Burn:
    hourly: float
    priced: int
    unpriced: tuple[tuple[str, str], ...]
    """(machine ref, why it has no price) of billed machines left out of the totals."""
    by_provider: tuple[Line, ...]
    by_source: tuple[Line, ...]
    by_region: tuple[Line, ...]

    @property
    def month(self) -> float:
        return self.hourly * HOURS_PER_MONTH


def place(provider: str, location: str) -> str:
    """What the region grouping goes by: a cloud's region (from a zone), an HPC VM's host, and
    `on-prem` for a bare-metal Kubernetes node."""
    if provider == ONPREM:
        return ONPREM
    return region_of(provider, location)  # libvirt's rule gives its host


def provider_group(kind: str) -> str:
    """What the provider grouping goes by: a cloud's kind (`aws`), and `on-prem` for every kind
    priced by the on-prem model (a libvirt host's VMs), as bare-metal nodes are."""
    p = provider(kind)
    return ONPREM if kind == ONPREM or (p is not None and not p.catalogue) else kind


def billed(m: Machine) -> bool:
    """Whether the machine costs money by the hour now: it holds its resources (running, paused),
    or it is an Azure VM powered off but still allocated (Azure bills until it is deallocated)."""
    kind = provider(m.provider)
    return m.state.is_on or (m.state is MachineState.STOPPED and kind is not None and kind.billed_off(m.native_state))


def machine_rate(m: Machine, catalogue: Catalogue, onprem: OnPremModel) -> Rate:
    kind_of = provider(m.provider)
    if kind_of is not None and not kind_of.catalogue:  # an HPC VM: what it holds, at the on-prem model's rates
        gib = m.memory_mib / 1024
        hourly = sum(onprem.gpu_rate(g.model) for g in m.gpus) + m.vcpus * onprem.vcpu_hour + gib * onprem.gib_hour
        return Rate(round(hourly, 6), "on-prem model")
    kind = m.machine_type or ""
    region = region_of(m.provider, m.location)
    offer = catalogue.offers.get((m.provider, kind, region))
    if offer is None:
        return Rate(None, "", f"no price for {kind or 'an unknown type'} in {region} ({catalogue.name} catalogue)")
    spot = m.lifecycle == "spot"
    host = offer.spot if spot else offer.on_demand
    if host is None:
        return Rate(None, "", f"no {'spot' if spot else 'on-demand'} price for {kind} in {region} "
                              f"({catalogue.name} catalogue)")
    hourly = host
    if kind_of is not None and kind_of.gpus_apart(kind) and m.gpus:  # attached GPUs are priced on their own
        for model, count in _counts(m).items():
            gpu = catalogue.offers.get((m.provider, f"gpu:{model}:{count}", region))
            price = None if gpu is None else (gpu.spot if spot else gpu.on_demand)
            if price is None:
                return Rate(None, "", f"no price for {count}×{model} attached in {region} ({catalogue.name} "
                                      "catalogue)")
            hourly += price
    return Rate(round(hourly, 6), "spot" if spot else "on-demand")


def node_provider(n: KubeNode, catalogue: Catalogue) -> str | None:
    """The cloud a Kubernetes node runs in: from the labels its managed service sets (EKS, GKE,
    AKS, Karpenter), else from its instance type when exactly one cloud has that type in its
    zone's region (a self-managed cluster on cloud VMs). None: bare metal, priced by the model."""
    keys = [k for k, _ in n.labels]
    for cloud in clouds():
        if any(k.startswith(cloud.node_labels) for k in keys):
            return cloud.kind
    having = {c.kind for c in clouds() if (c.kind, n.instance_type, c.region(n.zone)) in catalogue.offers}
    return having.pop() if len(having) == 1 else None


def node_gpus(n: KubeNode) -> int:
    """Physical GPUs: the device plugin's count, or, on a node whose GPUs are all MIG-partitioned
    (nvidia.com/gpu is 0 there), GPU feature discovery's `nvidia.com/gpu.count` label."""
    if n.gpu_capacity:
        return n.gpu_capacity
    count = dict(n.labels).get("nvidia.com/gpu.count", "")
    return int(count) if count.isdigit() and n.gpu_product else 0


def node_rate(n: KubeNode, catalogue: Catalogue, onprem: OnPremModel) -> Rate:
    provider = node_provider(n, catalogue)
    if provider is None:
        hourly = (node_gpus(n) * onprem.gpu_rate(n.gpu_product) + n.cpu_capacity_m / 1000 * onprem.vcpu_hour
                  + n.memory_capacity_mib / 1024 * onprem.gib_hour)
        return Rate(round(hourly, 6), "on-prem model")
    region = region_of(provider, n.zone)
    offer = catalogue.offers.get((provider, n.instance_type, region))
    labels = dict(n.labels)
    spot = any(str(labels.get(key, "")).lower() == value for c in clouds() for key, value in c.spot_labels)
    price = None if offer is None else (offer.spot if spot else offer.on_demand)
    if price is None:
        kind = n.instance_type or "a node without an instance-type label"
        return Rate(None, "", f"no {'spot ' if spot and offer else ''}price for {kind} in {region or 'an unknown zone'}"
                              f" ({catalogue.name} catalogue)")
    return Rate(price, f"{provider} {'spot' if spot else 'on-demand'}")


def _counts(m: Machine) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in m.gpus:
        out[g.model] = out.get(g.model, 0) + 1
    return out


def burn(machines: Iterable[Machine], catalogue: Catalogue, onprem: OnPremModel,
         nodes: Iterable[KubeNode] = ()) -> Burn:
    """The billed machines' and the Kubernetes nodes' cost per hour now, in total and per provider,
    source and region. A node that is also a listed cloud machine (same provider, an address in
    common: an EKS node is an EC2 instance) is counted once, as the machine."""
    machines = list(machines)
    total = 0.0
    priced = 0
    unpriced: list[tuple[str, str]] = []
    groups: dict[str, dict[str, list[float]]] = {"provider": {}, "source": {}, "region": {}}

    def add(ref: str, rate: Rate, provider: str, source: str, region: str) -> None:
        nonlocal total, priced
        if rate.hourly is None:
            unpriced.append((ref, rate.why))
            return
        priced += 1
        total += rate.hourly
        for dim, key in (("provider", provider), ("source", source), ("region", region)):
            groups[dim].setdefault(key, []).append(rate.hourly)

    for m in machines:
        if billed(m):
            add(m.ref, machine_rate(m, catalogue, onprem), provider_group(m.provider), m.source,
                place(m.provider, m.location))
    addresses = {(m.provider, a) for m in machines for a in m.addresses}
    for n in nodes:
        provider = node_provider(n, catalogue)
        if provider and any((provider, a) in addresses for a in n.addresses):
            continue
        add(f"{n.source}/{n.name}", node_rate(n, catalogue, onprem), provider or ONPREM, n.source,
            place(provider or ONPREM, n.zone))

    def lines(dim: str) -> tuple[Line, ...]:
        return tuple(sorted((Line(k, round(sum(v), 6), len(v)) for k, v in groups[dim].items()),
                            key=lambda line: (-line.hourly, line.key)))

    return Burn(round(total, 6), priced, tuple(sorted(unpriced)), lines("provider"), lines("source"), lines("region"))


@dataclass(frozen=True, slots=True)
class BudgetUse:
    key: str
    """A source (`rack-a`), or a cluster's namespace (`prod-gpu/inference`)."""
    budget: float
    projected: float
    """Its burn now over a 30-day month."""

    @property
    def ratio(self) -> float:
        return self.projected / self.budget

    @property
    def over(self) -> bool:
        return self.projected > self.budget

    @property
    def kind(self) -> str:
        return "namespace" if "/" in self.key else "source"


def budget_use(b: Burn, budgets: Mapping[str, float], namespaces: Mapping[str, float] | None = None
               ) -> list[BudgetUse]:
    """Each budget's projected month against it, the most over first: a source's from its burn,
    a namespace's (`cluster/namespace`) from its pods' allocated cost (`namespaces`). One with
    nothing priced projects $0 (its machines may lack prices: `unpriced` says which)."""
    hourly = {line.key: line.hourly for line in b.by_source} | dict(namespaces or {})
    uses = [BudgetUse(key, amount, round(hourly.get(key, 0.0) * HOURS_PER_MONTH, 2)) for key, amount in budgets.items()]
    return sorted(uses, key=lambda u: (-u.ratio, u.key))


@dataclass(frozen=True, slots=True)
class Quote:
    """One place to run a workload: the cheapest type with the GPUs asked for, in one cloud region."""

    cloud: str
    region: str
    machine_type: str
    hourly: float
    total: float
    saving: float
    """How much cheaper than the dearest quote, as a fraction (0.4 = 40% less)."""


def compare(catalogue: Catalogue, gpu: str, count: int, hours: float, *, spot: bool = False,
            region_prefix: str = "") -> list[Quote]:
    """The cheapest offer per cloud and region with exactly `count` GPUs of model `gpu` (as the
    catalogue names it: A100, A100-80GB, H100, L4...), cheapest first, for `hours` of use.
    GPUs a Compute Engine N1 host attaches are priced apart from their host and left out."""
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for (cloud, kind, region), offer in catalogue.offers.items():
        if kind.startswith("gpu:") or not geography(cloud, region).startswith(region_prefix):
            continue
        if (offer.accelerator or "").lower() != gpu.lower() or offer.accelerator_count != count:
            continue
        price = offer.spot if spot else offer.on_demand
        if price is None:
            continue
        if (cloud, region) not in best or price < best[cloud, region][0]:
            best[cloud, region] = (price, kind)
    if not best:
        return []
    dearest = max(p for p, _ in best.values())
    quotes = [Quote(c, r, kind, p, round(p * hours, 2), round(1 - p / dearest, 4))
              for (c, r), (p, kind) in best.items()]
    return sorted(quotes, key=lambda q: (q.hourly, q.cloud, q.region))


def geography(cloud: str, region: str) -> str:
    """A region named so that a prefix picks a geography in every cloud (the cloud's own rule)."""
    kind = PROVIDERS.get(cloud)
    return kind.geography(region) if kind is not None else region


def gpu_names(catalogue: Catalogue) -> list[str]:
    return sorted({o.accelerator for o in catalogue.offers.values() if o.accelerator})
