"""Kubernetes records: nodes with their GPUs, pods, Deployments, HPAs and InferenceServices.

Frozen and small on purpose: a cluster of 100,000 pods is held as these records (not as SDK
objects), and a snapshot handed to the UI thread can never change under it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class MigSlice:
    """One MIG profile a node offers (`nvidia.com/mig-1g.10gb`): how many, and how many are held."""

    profile: str
    capacity: int
    allocatable: int
    allocated: int = 0


@dataclass(frozen=True, slots=True)
class PodRef:
    """A pod on a node, and what it holds: the rows of a node's detail pane."""

    namespace: str
    name: str
    phase: str
    gpus: int
    mig: tuple[tuple[str, int], ...] = ()
    owner: str = ""
    cpu_m: int = 0
    memory_mib: int = 0
    isvc: str = ""
    """The KServe InferenceService the pod serves (its `serving.kserve.io/inferenceservice` label)."""


@dataclass(frozen=True, slots=True)
class KubeNode:
    source: str
    name: str
    ready: bool
    unschedulable: bool
    roles: tuple[str, ...]
    version: str
    created_at: datetime | None
    cpu_capacity_m: int
    cpu_allocatable_m: int
    memory_capacity_mib: int
    memory_allocatable_mib: int
    gpu_capacity: int = 0
    gpu_allocatable: int = 0
    gpu_allocated: int = 0
    gpu_product: str = ""
    gpu_memory_mib: int | None = None
    mig_strategy: str = ""
    mig: tuple[MigSlice, ...] = ()
    conditions: tuple[Condition, ...] = ()
    taints: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    addresses: tuple[str, ...] = ()
    instance_type: str = ""
    zone: str = ""
    pods: tuple[PodRef, ...] = ()
    cpu_requested_m: int = 0
    memory_requested_mib: int = 0

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.name}"

    @property
    def gpu_free(self) -> int:
        return max(0, self.gpu_allocatable - self.gpu_allocated) if self.ready and not self.unschedulable else 0

    @property
    def status(self) -> str:
        """What `kubectl get nodes` prints in its STATUS column."""
        text = "Ready" if self.ready else "NotReady"
        return text + ",SchedulingDisabled" if self.unschedulable else text

    @property
    def gpu_pods(self) -> tuple[PodRef, ...]:
        return tuple(p for p in self.pods if p.gpus or p.mig)


@dataclass(frozen=True, slots=True)
class KubePod:
    """What the cockpit keeps of a pod: where it runs and what it requests."""

    namespace: str
    name: str
    node: str
    phase: str
    ready: bool
    gpus: int
    cpu_m: int
    memory_mib: int
    owner_kind: str = ""
    owner_name: str = ""
    mig: tuple[tuple[str, int], ...] = ()
    restarts: int = 0
    created_at: datetime | None = None
    isvc: str = ""

    @property
    def active(self) -> bool:
        """Holds its node's resources: scheduled and not finished (what the scheduler counts)."""
        return bool(self.node) and self.phase not in ("Succeeded", "Failed")


class RolloutState(enum.Enum):
    COMPLETE = "complete"
    PROGRESSING = "progressing"
    FAILED = "failed"
    PAUSED = "paused"
    SCALED_DOWN = "scaled to 0"


@dataclass(frozen=True, slots=True)
class Revision:
    """One entry of a Deployment's history: a ReplicaSet and the template it carries."""

    number: int
    replicaset: str
    images: tuple[str, ...]
    created_at: datetime | None
    replicas: int
    model: str = ""
    change_cause: str = ""


@dataclass(frozen=True, slots=True)
class Deployment:
    source: str
    namespace: str
    name: str
    replicas: int
    updated: int
    ready: int
    available: int
    images: tuple[str, ...]
    revision: int
    rollout: RolloutState
    rollout_message: str
    generation: int = 0
    observed_generation: int = 0
    model: str = ""
    gpus_per_replica: int = 0
    created_at: datetime | None = None
    selector: tuple[tuple[str, str], ...] = ()
    containers: tuple[str, ...] = ()
    mig_per_replica: tuple[tuple[str, int], ...] = ()
    model_env: tuple[str, str] | None = None
    """(container, env var) that carries the model reference, where one does: what `model deploy` sets."""

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Hpa:
    source: str
    namespace: str
    name: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    targets: str = ""

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class TrafficTarget:
    revision: str
    percent: int
    latest: bool
    tag: str = ""


@dataclass(frozen=True, slots=True)
class InferenceService:
    """A KServe InferenceService (serving.kserve.io/v1beta1), read through the custom objects API."""

    source: str
    namespace: str
    name: str
    ready: bool
    url: str
    storage_uri: str
    model_format: str
    canary_percent: int | None
    latest_ready_revision: str
    latest_created_revision: str
    previous_revision: str
    traffic: tuple[TrafficTarget, ...] = ()
    gpus: int = 0
    cpu: str = ""
    memory: str = ""
    message: str = ""
    created_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """One cluster as the cockpit last saw it. `errors` maps a kind ("nodes") to why it is
    missing ("forbidden: list nodes"); `notes` to a harmless absence ("KServe is not installed")."""

    source: str
    context: str
    server: str
    nodes: tuple[KubeNode, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    hpas: tuple[Hpa, ...] = ()
    inference_services: tuple[InferenceService, ...] = ()
    pod_count: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    synced: bool = False
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class DrainPlan:
    """What `node drain` would do, computed before anything changes (the dry run shows it)."""

    node: str
    evict: tuple[PodRef, ...]
    daemonsets: tuple[PodRef, ...] = ()
    unmanaged: tuple[PodRef, ...] = ()
    mirror: tuple[PodRef, ...] = ()
    already_cordoned: bool = False


@dataclass(frozen=True, slots=True)
class DrainResult:
    node: str
    evicted: tuple[str, ...]
    blocked: tuple[tuple[str, str], ...] = ()
    """Pods an eviction was refused for (a PodDisruptionBudget), with the server's reason."""
    gone: tuple[str, ...] = ()


def owning_deployment(namespace: str, owner: str, deployments: tuple[Deployment, ...] | list[Deployment]
                      ) -> Deployment | None:
    """The Deployment behind a pod owned by `ReplicaSet/NAME-HASH`: the GPU -> pod -> model join."""
    kind, _, rs = owner.partition("/")
    if kind != "ReplicaSet":
        return None
    base = rs.rsplit("-", 1)[0]
    return next((d for d in deployments if d.namespace == namespace and d.name == base), None)


def pods_of(d: Deployment, nodes: tuple[KubeNode, ...] | list[KubeNode]) -> list[tuple[str, PodRef]]:
    """(node, pod) for every pod of the Deployment: where its replicas, and their GPUs, are."""
    return [(n.name, p) for n in nodes for p in n.pods
            if p.namespace == d.namespace and p.owner.startswith("ReplicaSet/")
            and p.owner.split("/", 1)[1].rsplit("-", 1)[0] == d.name]


# -- how a record reads in a cell: the screens and the commands' tables alike --------------------
def gpu_text(n: KubeNode) -> str:
    if n.mig:
        return " ".join(f"{s.allocated}/{s.allocatable}×{s.profile}" for s in n.mig)
    return f"{n.gpu_allocated}/{n.gpu_allocatable}" if n.gpu_allocatable or n.gpu_capacity else "-"


def product(n: KubeNode) -> str:
    return n.gpu_product.removeprefix("NVIDIA-") if n.gpu_product else "-"


def traffic_text(i: InferenceService) -> str:
    if not i.traffic:
        return "-"
    return " ".join(f"{t.percent}%{'*' if t.latest else ''}" for t in i.traffic)
