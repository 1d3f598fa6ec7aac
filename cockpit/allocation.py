"""Kubernetes cost allocation in the manner of OpenCost: each node's cost per hour split across the
pods on it by what they request (GPUs, CPU, memory), rolled up per namespace and per workload
(Deployment, InferenceService, Job...), with what no pod requested as its own idle line.

How a node's price is split: the on-prem model's rates weigh its GPUs, cores and GiB (an H100 is
worth many cores), and those weights are scaled so the parts add up to the node's price. A node
priced by the on-prem model therefore splits at exactly the model's rates. A pod pays for its
requests (not its usage: a request is what it keeps others from) at the node's capacity prices; a
MIG slice pays its share of one GPU (`3g.40gb` on an A100 is 3/7), not a whole GPU. What is left of
the node's price (capacity nobody requested, and what the kubelet reserves) is idle.
Pure functions over snapshot records: no SDK, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cockpit.costs import BudgetUse, Burn, OnPremModel, budget_use, node_gpus, node_rate
from cockpit.model_kube import ClusterSnapshot, Deployment, KubeNode, PodRef
from cockpit.prices import Catalogue

IDLE = "(idle)"
"""The key of what no pod requested, in every grouping."""

NAMESPACE, WORKLOAD = "namespace", "deployment"
"""The two groupings: `cost by namespace`, `cost by deployment` (any workload, not only Deployments)."""


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """What one unit of a node costs per hour, its price split by the on-prem model's weights."""

    gpu: float
    core: float
    gib: float


@dataclass(frozen=True, slots=True)
class PodCost:
    source: str
    namespace: str
    pod: str
    node: str
    workload: str
    """`Deployment/NAME`, `InferenceService/NAME`, or the pod's owner (`Job/NAME`), else `Pod/NAME`."""
    gpu: float
    cpu: float
    memory: float

    @property
    def hourly(self) -> float:
        return self.gpu + self.cpu + self.memory


@dataclass(frozen=True, slots=True)
class Share:
    """One line of a grouping: its $/h, split by resource, over `pods` pods (nodes for the idle line)."""

    key: str
    hourly: float
    gpu: float
    cpu: float
    memory: float
    pods: int


@dataclass(frozen=True, slots=True)
class Allocation:
    hourly: float
    """What the priced nodes cost per hour: the pods' shares plus the idle lines add up to it."""
    pods: tuple[PodCost, ...]
    idle: tuple[tuple[str, float], ...]
    """(node ref, $/h of it no pod requested)."""
    unpriced: tuple[tuple[str, str], ...]
    """(node ref, why it has no price): its pods are left out, not counted as free."""

    def by(self, dim: str) -> tuple[Share, ...]:
        """Per `source/namespace` or per `source/namespace/Kind/name`, dearest first, idle last."""
        groups: dict[str, list[PodCost]] = {}
        for p in self.pods:
            key = f"{p.source}/{p.namespace}" if dim == NAMESPACE else f"{p.source}/{p.namespace}/{p.workload}"
            groups.setdefault(key, []).append(p)
        shares = sorted((Share(k, round(sum(p.hourly for p in ps), 6), round(sum(p.gpu for p in ps), 6),
                               round(sum(p.cpu for p in ps), 6), round(sum(p.memory for p in ps), 6), len(ps))
                         for k, ps in groups.items()), key=lambda s: (-s.hourly, s.key))
        idle = round(sum(h for _, h in self.idle), 6)
        return (*shares, Share(IDLE, idle, 0.0, 0.0, 0.0, len(self.idle))) if self.idle else tuple(shares)

    def workload_hourly(self) -> dict[str, float]:
        """`source/namespace/Kind/name` -> $/h: the Deployments screen's column."""
        return {s.key: s.hourly for s in self.by(WORKLOAD) if s.key != IDLE}


def mig_fraction(profile: str, product: str) -> float:
    """The share of one GPU a MIG profile holds: its compute slices over the GPU's (7 on A100,
    H100 and H200; 4 on A30). `1g.10gb` on an A100 is 1/7."""
    found = re.match(r"(\d+)g\.", profile)
    slices = 4 if re.search(r"\bA30\b", product.upper().replace("-", " ")) else 7
    return min(1.0, int(found.group(1)) / slices) if found else 1.0


def split_prices(hourly: float, gpus: int, product: str, cores: float, gib: float,
                 onprem: OnPremModel) -> UnitPrices:
    """A machine's price per hour as prices per GPU, core and GiB: the on-prem model's rates,
    scaled so that what the machine holds adds up to `hourly`."""
    gpu_w, core_w, gib_w = onprem.gpu_rate(product), onprem.vcpu_hour, onprem.gib_hour
    weight = gpus * gpu_w + cores * core_w + gib * gib_w
    k = hourly / weight if weight else 0.0
    return UnitPrices(k * gpu_w, k * core_w, k * gib_w)


def unit_prices(n: KubeNode, hourly: float, onprem: OnPremModel) -> UnitPrices:
    return split_prices(hourly, node_gpus(n), n.gpu_product, n.cpu_capacity_m / 1000, n.memory_capacity_mib / 1024,
                        onprem)


def workload_of(p: PodRef, namespace_deployments: Mapping[tuple[str, str], Deployment]) -> str:
    """What a pod's cost is charged to: its InferenceService (KServe's label), the Deployment that
    owns its ReplicaSet, its other owner (Job, StatefulSet, DaemonSet), or itself."""
    if p.isvc:
        return f"InferenceService/{p.isvc}"
    kind, _, owner = p.owner.partition("/")
    if kind == "ReplicaSet":
        d = namespace_deployments.get((p.namespace, owner.rsplit("-", 1)[0]))
        if d is not None:
            return f"Deployment/{d.name}"
    return p.owner or f"Pod/{p.name}"


def pod_cost(p: PodRef, n: KubeNode, unit: UnitPrices, workload: str) -> PodCost:
    gpus = p.gpus + (sum(k * mig_fraction(profile, n.gpu_product) for profile, k in p.mig) if p.mig else 0)
    return PodCost(n.source, p.namespace, p.name, n.name, workload, gpus * unit.gpu,
                   p.cpu_m / 1000 * unit.core, p.memory_mib / 1024 * unit.gib)


_MEMO: list[tuple[tuple[ClusterSnapshot, ...], Catalogue, OnPremModel, Allocation]] = []
"""The last few answers: the Costs, Deployments and Overview screens ask about the same snapshots
(a snapshot object is rebuilt only when its cluster changed), and 100,000 pods take a few hundred ms."""


def allocate(snaps: Iterable[ClusterSnapshot], catalogue: Catalogue, onprem: OnPremModel) -> Allocation:
    """Every node of every cluster priced and split across its pods."""
    key = tuple(snaps)
    for seen, cat, model, answer in _MEMO:
        if cat is catalogue and model == onprem and len(seen) == len(key) and all(
                a is b for a, b in zip(seen, key, strict=True)):
            return answer
    answer = _allocate(key, catalogue, onprem)
    _MEMO.insert(0, (key, catalogue, onprem, answer))
    del _MEMO[4:]
    return answer


def _allocate(snaps: tuple[ClusterSnapshot, ...], catalogue: Catalogue, onprem: OnPremModel) -> Allocation:
    total = 0.0
    pods: list[PodCost] = []
    idle: list[tuple[str, float]] = []
    unpriced: list[tuple[str, str]] = []
    for snap in snaps:
        deployments = {(d.namespace, d.name): d for d in snap.deployments}
        workloads: dict[tuple[str, str, str], str] = {}  # replicas share an owner: resolve it once
        for n in snap.nodes:
            rate = node_rate(n, catalogue, onprem)
            if rate.hourly is None:
                unpriced.append((n.ref, rate.why))
                continue
            total += rate.hourly
            unit = unit_prices(n, rate.hourly, onprem)
            spent = 0.0
            for p in n.pods:
                owner = (p.namespace, p.owner, p.isvc)
                workload = workloads.get(owner) if p.owner else None
                if workload is None:
                    workload = workloads[owner] = workload_of(p, deployments)
                cost = pod_cost(p, n, unit, workload)
                spent += cost.gpu + cost.cpu + cost.memory
                pods.append(cost)
            idle.append((n.ref, max(0.0, round(rate.hourly - spent, 6))))
    return Allocation(round(total, 6), tuple(pods), tuple(idle), tuple(sorted(unpriced)))


def namespace_hourly(a: Allocation) -> dict[str, float]:
    """`cluster/namespace` -> $/h: what namespace budgets are held against."""
    return {s.key: s.hourly for s in a.by(NAMESPACE) if s.key != IDLE}


def budgets_now(b: Burn, budgets: Mapping[str, float], snaps: Iterable[ClusterSnapshot], cat: Catalogue,
                onprem: OnPremModel) -> list[BudgetUse]:
    """Every budget against its projected month: a source's from the burn, a namespace's from its
    pods' share of the split. What `cost budgets`, the Overview and the Costs screen all show."""
    return budget_use(b, budgets, namespace_hourly(allocate(snaps, cat, onprem)))
