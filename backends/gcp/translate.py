"""Compute Engine's JSON (instances, machine types) as cockpit records: pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backends.cloud import parse_time
from cockpit.model import Disk, GpuDevice, Machine, MachineState

STATES: Mapping[str, MachineState] = {
    "PROVISIONING": MachineState.STARTING, "STAGING": MachineState.STARTING, "RUNNING": MachineState.RUNNING,
    "STOPPING": MachineState.STOPPING, "SUSPENDING": MachineState.STOPPING, "SUSPENDED": MachineState.SUSPENDED,
    # TERMINATED is Compute Engine's word for a stopped instance that can be started again
    "STOPPED": MachineState.STOPPED, "TERMINATED": MachineState.STOPPED, "REPAIRING": MachineState.UNKNOWN,
}

ACCELERATORS: Mapping[str, tuple[str, int]] = {
    # accelerator type -> (model as EC2 and nvidia-smi name it, memory MiB): cloud.google.com/compute/docs/gpus
    "nvidia-b200": ("B200", 183296), "nvidia-h200-141gb": ("H200", 144384), "nvidia-h100-80gb": ("H100", 81920),
    "nvidia-h100-mega-80gb": ("H100", 81920), "nvidia-a100-80gb": ("A100", 81920),
    "nvidia-tesla-a100": ("A100", 40960), "nvidia-l4": ("L4", 24576), "nvidia-tesla-t4": ("T4", 16384),
    "nvidia-tesla-v100": ("V100", 16384), "nvidia-tesla-p100": ("P100", 16384), "nvidia-tesla-p4": ("P4", 8192),
}
_CUSTOM = re.compile(r"^(?:[a-z0-9]+-)?custom-(\d+)-(\d+)(?:-ext)?$")


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What machineTypes.get says of a size: cached per zone, it never changes."""

    vcpus: int
    memory_mib: int
    accelerators: tuple[tuple[str, int], ...] = ()


def last(link: object) -> str:
    """The name at the end of a selfLink or partial URL (`.../zones/us-central1-a` -> the zone)."""
    return str(link or "").rstrip("/").rsplit("/", 1)[-1]


def type_info(raw: Mapping[str, Any]) -> TypeInfo:
    return TypeInfo(int(raw.get("guestCpus") or 0), int(raw.get("memoryMb") or 0),
                    tuple((str(a.get("guestAcceleratorType")), int(a.get("guestAcceleratorCount") or 1))
                          for a in raw.get("accelerators") or []))


def custom_type(name: str) -> TypeInfo | None:
    """A custom machine type names its own size (`n2-custom-8-30720`): no lookup needed."""
    m = _CUSTOM.match(name)
    return TypeInfo(int(m.group(1)), int(m.group(2))) if m else None


def gpus(accelerators: tuple[tuple[str, int], ...]) -> tuple[GpuDevice, ...]:
    out: list[GpuDevice] = []
    for kind, count in accelerators:
        model, mem = ACCELERATORS.get(kind, (kind, 0))
        out += [GpuDevice(model, None, "NVIDIA" if kind.startswith("nvidia-") else None, mem or None)] * count
    return tuple(out)


def disks(raw: Mapping[str, Any]) -> tuple[Disk, ...]:
    """The attached disks as the instance lists them: device name, the disk, its size (GB: GiB)."""
    out = []
    for d in raw.get("disks") or []:
        size = d.get("diskSizeGb")
        out.append(Disk(target=str(d.get("deviceName") or "?"), source=last(d.get("source")),
                        capacity_bytes=int(size) * 2**30 if size not in (None, "") else None))
    return tuple(out)


def machine(source: str, raw: Mapping[str, Any], info: TypeInfo | None, name: str) -> Machine:
    """One instance. `name` is the instance's own unless another zone or project shares it."""
    status = str(raw.get("status") or "UNKNOWN")
    state = STATES.get(status, MachineState.UNKNOWN)
    scheduling = raw.get("scheduling") or {}
    attached = tuple((last(a.get("acceleratorType")), int(a.get("acceleratorCount") or 1))
                     for a in raw.get("guestAccelerators") or [])
    addresses: list[str] = []
    for nic in raw.get("networkInterfaces") or []:
        addresses += [nic["networkIP"]] if nic.get("networkIP") else []
        addresses += [c["natIP"] for c in nic.get("accessConfigs") or [] if c.get("natIP")]
    spot = scheduling.get("provisioningModel") == "SPOT" or bool(scheduling.get("preemptible"))
    return Machine(
        source=source, name=name, provider="gcp", location=last(raw.get("zone")), state=state,
        native_state=status.lower(), vcpus=info.vcpus if info else 0, memory_mib=info.memory_mib if info else 0,
        gpus=gpus(attached or (info.accelerators if info else ())), addresses=tuple(addresses),
        tags=tuple(sorted((str(k), str(v)) for k, v in (raw.get("labels") or {}).items())), uid=str(raw.get("id")),
        created_at=parse_time(raw.get("creationTimestamp")),
        started_at=parse_time(raw.get("lastStartTimestamp")) if state is MachineState.RUNNING else None,
        machine_type=last(raw.get("machineType")) or None, lifecycle="spot" if spot else "on-demand",
        disks=disks(raw),
    )
