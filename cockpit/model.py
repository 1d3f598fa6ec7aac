"""The records every layer shares: frozen dataclasses, no behaviour that touches the outside.

Backends translate their SDK objects into these records; screens and the script runner only
ever see these. Keeping them frozen means a record handed to the UI thread can never change
under it while a worker thread refreshes the inventory.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class MachineState(enum.Enum):
    """Cockpit's own machine states; each backend maps its native states onto these."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STARTING = "starting"
    STOPPING = "stopping"
    CRASHED = "crashed"
    BLOCKED = "blocked"
    TERMINATED = "terminated"
    """A cloud instance that is gone but still listed for a while (EC2 keeps them about an hour)."""
    UNKNOWN = "unknown"

    @property
    def is_on(self) -> bool:
        """Whether the machine holds its resources (GPUs, memory) right now."""
        return self in {MachineState.RUNNING, MachineState.PAUSED, MachineState.BLOCKED,
                        MachineState.STARTING, MachineState.STOPPING}


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """One GPU given to a machine (PCI passthrough) or attached to a cloud instance."""

    model: str
    pci_address: str | None = None
    vendor: str | None = None
    memory_mib: int | None = None


@dataclass(frozen=True, slots=True)
class Disk:
    target: str
    source: str
    device: str = "disk"
    capacity_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Nic:
    mac: str
    network: str
    model: str | None = None
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Machine:
    """A VM on a hypervisor or a cloud: the row of the Machines screen and of `vm list`."""

    source: str
    name: str
    provider: str
    location: str
    state: MachineState
    native_state: str
    vcpus: int
    memory_mib: int
    gpus: tuple[GpuDevice, ...] = ()
    addresses: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    uid: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    cpu_time_ns: int | None = None
    cpu_percent: float | None = None
    disks: tuple[Disk, ...] = ()
    nics: tuple[Nic, ...] = ()
    template: str | None = None
    machine_type: str | None = None
    """The cloud's size name (g5.xlarge, a2-highgpu-1g, Standard_NC24ads_A100_v4); None on libvirt."""
    lifecycle: str | None = None
    """spot | on-demand on a cloud; None where the idea does not apply."""

    @property
    def ref(self) -> str:
        """The `source/name` form every command accepts as a target."""
        return f"{self.source}/{self.name}"

    def tag(self, key: str) -> str | None:
        for k, v in self.tags:
            if k == key:
                return v
        return None


@dataclass(frozen=True, slots=True)
class HostGpu:
    """A GPU the hypervisor host owns, and which machine (if any) has it passed through."""

    source: str
    pci_address: str
    model: str
    vendor: str | None
    numa_node: int | None
    assigned_to: str | None
    assigned_running: bool
    driver: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A provisioning template a source offers (for libvirt: a shipped domain XML)."""

    name: str
    description: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    gpus: int


@dataclass(frozen=True, slots=True)
class ProvisionSpec:
    """What `vm provision` asks a backend to create; validated before it reaches a backend."""

    name: str
    template: str
    vcpus: int | None = None
    memory_mib: int | None = None
    disk_gib: int | None = None
    gpus: tuple[str, ...] = ()
    start: bool = False
    tags: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CloudProvisionSpec:
    """What `vm provision` asks a cloud to create: N alike instances in one region or zone.
    Validated by the command before it reaches a backend; each backend checks what only its cloud
    knows (the size exists there, the image resolves)."""

    location: str
    """EC2 and Azure: a region; Compute Engine: a zone."""
    machine_type: str
    image: str
    """An AMI id, a Compute Engine image (or family) path, or an Azure publisher:offer:sku:version."""
    name: str
    """The instance's name (EC2: its Name tag); with count > 1, NAME-0, NAME-1, ..."""
    count: int = 1
    spot: bool = False
    max_price: float | None = None
    """Dollars per hour at most for spot capacity (EC2, Azure); None: up to the on-demand price."""
    fallback_on_demand: bool = False
    """If spot capacity is refused, ask again on-demand (a visible step, not a silent change)."""
    accelerators: tuple[tuple[str, int], ...] = ()
    """Compute Engine N1 sizes: GPUs to attach, (type, count)."""
    disk_gib: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    """Azure: the resource group."""
    subnet: str | None = None
    """EC2: a subnet id; Azure: a subnet's resource id (the NIC is created with the VM)."""
    ssh_key: str | None = None
    """Azure: the admin user's public key (the text)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,) if self.count == 1 else tuple(f"{self.name}-{i}" for i in range(self.count))


@dataclass(frozen=True, slots=True)
class CloudOffer:
    """What a cloud says of a size in a location before anything is created: the dry run's figures."""

    machine_type: str
    vcpus: int
    memory_mib: int
    gpus: tuple[GpuDevice, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What a cloud created, and the steps it took to get there (a spot refusal, the fallback)."""

    machines: tuple[Machine, ...]
    steps: tuple[str, ...] = ()


class HealthState(enum.Enum):
    UNKNOWN = "unknown"
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the status bar shows per source: state, why, how fresh the data is, and since when
    the source has been in this state (the hub sets `since` when the state changes)."""

    source: str
    kind: str
    state: HealthState
    reason: str | None = None
    as_of: datetime | None = None
    latency_ms: float | None = None
    since: datetime | None = None

    def describe(self, why: bool = True) -> str:
        """The state as a person reads it: `ok`, `degraded since 12:01:03: why`, `down since 12:01:03: why`, or
        `never answered` (no call has come back yet). The reason is the backend's text: sanitise it.
        Without `why` (the status bar, where one long error would push every other source off the
        line), the state and since when only."""
        if self.state is HealthState.UNKNOWN:
            return "never answered"
        if self.state is HealthState.OK:
            return "ok"
        text = self.state.value
        if self.since is not None:  # down or degraded: since when
            text += f" since {self.since.astimezone().strftime('%H:%M:%S')}"
        return f"{text}: {self.reason}" if self.reason and why else text
