"""EC2's JSON (describe_instances, describe_instance_types) as cockpit records: pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.model import Disk, GpuDevice, Machine, MachineState

STATES: Mapping[str, MachineState] = {
    "pending": MachineState.STARTING, "running": MachineState.RUNNING, "stopping": MachineState.STOPPING,
    "shutting-down": MachineState.STOPPING, "stopped": MachineState.STOPPED,
    "terminated": MachineState.TERMINATED,
}


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What describe_instance_types says of a size: cached per region, it never changes."""

    vcpus: int
    memory_mib: int
    gpus: tuple[GpuDevice, ...] = ()


def type_info(raw: Mapping[str, Any]) -> TypeInfo:
    gpus: list[GpuDevice] = []
    for g in (raw.get("GpuInfo") or {}).get("Gpus") or []:
        mem = (g.get("MemoryInfo") or {}).get("SizeInMiB")
        gpus += [GpuDevice(str(g.get("Name") or "GPU"), None, g.get("Manufacturer"), mem)] * int(g.get("Count") or 1)
    return TypeInfo(int((raw.get("VCpuInfo") or {}).get("DefaultVCpus") or 0),
                    int((raw.get("MemoryInfo") or {}).get("SizeInMiB") or 0), tuple(gpus))


def tag_dict(raw: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in raw.get("Tags") or [] if "Key" in t}


def volume_ids(raw: Mapping[str, Any]) -> list[str]:
    """The EBS volumes an instance has attached (describe_instances names them, not their sizes)."""
    return [str(m["Ebs"]["VolumeId"]) for m in raw.get("BlockDeviceMappings") or []
            if (m.get("Ebs") or {}).get("VolumeId")]


def disks(raw: Mapping[str, Any], gib: Mapping[str, int] | None = None) -> tuple[Disk, ...]:
    """The instance's block devices: device name, volume id, and the size where `gib` (volume id ->
    GiB, from describe_volumes) has it."""
    out = []
    for m in raw.get("BlockDeviceMappings") or []:
        vid = str((m.get("Ebs") or {}).get("VolumeId") or "")
        size = (gib or {}).get(vid)
        out.append(Disk(target=str(m.get("DeviceName") or "?"), source=vid, device="disk",
                        capacity_bytes=size * 2**30 if size is not None else None))
    return tuple(out)


def machine(source: str, raw: Mapping[str, Any], info: TypeInfo | None, name: str,
            gib: Mapping[str, int] | None = None) -> Machine:
    """One instance. `name` is its Name tag when that is unique in the source, else its id.
    `gib`: the sizes of its volumes, when they were asked for (one machine shown, not a list)."""
    state = str((raw.get("State") or {}).get("Name", "unknown"))
    tags = tag_dict(raw)
    addresses = tuple(a for a in (raw.get("PrivateIpAddress"), raw.get("PublicIpAddress")) if a)
    launched = raw.get("LaunchTime")
    mapped = STATES.get(state, MachineState.UNKNOWN)
    return Machine(
        source=source, name=name, provider="aws",
        location=str((raw.get("Placement") or {}).get("AvailabilityZone", "")),
        state=mapped, native_state=state, vcpus=info.vcpus if info else 0, memory_mib=info.memory_mib if info else 0,
        gpus=info.gpus if info else (), addresses=addresses,
        # the Name tag is the name, unless another instance shares it: then it stays visible as a tag
        tags=tuple(sorted((k, v) for k, v in tags.items() if k != "Name" or v != name)), uid=str(raw.get("InstanceId")),
        created_at=launched if isinstance(launched, datetime) else None,
        started_at=launched if isinstance(launched, datetime) and mapped is MachineState.RUNNING else None,
        machine_type=str(raw.get("InstanceType") or "") or None,
        lifecycle="spot" if raw.get("InstanceLifecycle") == "spot" else "on-demand", disks=disks(raw, gib),
    )
