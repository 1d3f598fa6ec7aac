"""Azure Resource Manager's JSON (virtual machines with their instance view, resource SKUs) as
cockpit records: pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backends.cloud import parse_time
from cockpit.model import Disk, GpuDevice, Machine, MachineState

POWER: Mapping[str, MachineState] = {
    "running": MachineState.RUNNING, "starting": MachineState.STARTING, "stopping": MachineState.STOPPING,
    "deallocating": MachineState.STOPPING, "deallocated": MachineState.STOPPED,
    # powered off but still allocated: the compute is still billed (the native state says so)
    "stopped": MachineState.STOPPED,
}

GPU_MODELS: tuple[tuple[re.Pattern[str], str, int], ...] = tuple((re.compile(p, re.I), m, mem) for p, m, mem in (
    # size name -> the GPU it carries (learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated)
    (r"_H200_v5$", "H200", 144384), (r"^Standard_NC\d+ad[a-z]*_H100_v5$", "H100 NVL", 96256),
    (r"_H100_v5$", "H100", 81920), (r"_A100_v4$", "A100", 81920), (r"^Standard_ND96asr_v4$", "A100", 40960),
    (r"_A10_v5$", "A10", 24576), (r"_T4_v3$", "T4", 16384), (r"^Standard_NC\d+s_v3$", "V100", 16384),
    (r"_MI300X_v5$", "MI300X", 196608),
))


@dataclass(frozen=True, slots=True)
class SizeInfo:
    """What the resource SKUs say of a size in a region: cached, it never changes."""

    vcpus: int
    memory_mib: int
    gpus: int = 0


def size_info(raw: Mapping[str, Any]) -> SizeInfo:
    caps = {str(c.get("name")): str(c.get("value")) for c in raw.get("capabilities") or []}
    try:
        return SizeInfo(int(caps.get("vCPUs") or 0), int(float(caps.get("MemoryGB") or 0) * 1024),
                        int(caps.get("GPUs") or 0))
    except ValueError:
        return SizeInfo(0, 0)


def gpus(size: str, count: int) -> tuple[GpuDevice, ...]:
    for pattern, model, mem in GPU_MODELS:
        if pattern.search(size):
            vendor = "AMD" if model.startswith("MI") else "NVIDIA"
            return (GpuDevice(model, None, vendor, mem),) * count
    return (GpuDevice("GPU"),) * count


def where(vm_id: str) -> tuple[str, str]:
    """(resource group, name) from an ARM id: /subscriptions/S/resourceGroups/G/providers/.../NAME."""
    parts = vm_id.split("/")
    lower = [p.lower() for p in parts]
    group = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else ""
    return group, parts[-1]


def disks(props: Mapping[str, Any]) -> tuple[Disk, ...]:
    """The OS disk and the data disks as the VM's storage profile names them, with their sizes."""
    storage = props.get("storageProfile") or {}
    found = [("os", storage.get("osDisk"))] + [(f"lun{d.get('lun')}", d) for d in storage.get("dataDisks") or []]
    out = []
    for target, d in found:
        if not d:
            continue
        size = d.get("diskSizeGB")
        source = str(d.get("name") or (d.get("managedDisk") or {}).get("id") or "").rsplit("/", 1)[-1]
        out.append(Disk(target=target, source=source, capacity_bytes=int(size) * 2**30 if size is not None else None))
    return tuple(out)


def machine(source: str, raw: Mapping[str, Any], info: SizeInfo | None, name: str) -> Machine:
    """One VM. `name` is the VM's own unless another resource group or subscription shares it."""
    props = raw.get("properties") or {}
    statuses = (props.get("instanceView") or {}).get("statuses") or []
    codes = {str(s.get("code", "")).partition("/")[0]: s for s in statuses}
    power = str(codes.get("PowerState", {}).get("code", "PowerState/unknown")).partition("/")[2]
    provisioned = codes.get("ProvisioningState", {}).get("time")
    state = POWER.get(power, MachineState.UNKNOWN)
    size = str((props.get("hardwareProfile") or {}).get("vmSize") or "")
    zones = raw.get("zones") or []
    return Machine(
        source=source, name=name, provider="azure",
        location=str(raw.get("location") or "") + (f"-{zones[0]}" if zones else ""), state=state,
        native_state=f"{power} (allocated)" if power == "stopped" else power,
        vcpus=info.vcpus if info else 0, memory_mib=info.memory_mib if info else 0,
        gpus=gpus(size, info.gpus) if info and info.gpus else (),
        tags=tuple(sorted((str(k), str(v)) for k, v in (raw.get("tags") or {}).items())),
        uid=str(props.get("vmId") or raw.get("id")), created_at=parse_time(props.get("timeCreated")),
        # the last provisioning change of a running VM is its last start (or its creation)
        started_at=parse_time(provisioned) if state is MachineState.RUNNING else None,
        machine_type=size or None, lifecycle="spot" if props.get("priority") in ("Spot", "Low") else "on-demand",
        disks=disks(props),
    )
