"""Pure translations from libvirt's answers (ints, XML strings) to cockpit records.

No libvirt import here: these functions are tested on XML text alone, and the numbers are the
stable values of libvirt's public enums (virDomainState, virDomainEventType).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from cockpit.model import Disk, GpuDevice, HostGpu, Machine, MachineState, Nic

METADATA_NS = "https://cockpit.invalid/ns/machine/1"

# virDomainState -> (cockpit state, virsh's word)
STATE_MAP: dict[int, tuple[MachineState, str]] = {
    0: (MachineState.UNKNOWN, "no state"),
    1: (MachineState.RUNNING, "running"),
    2: (MachineState.BLOCKED, "blocked"),
    3: (MachineState.PAUSED, "paused"),
    4: (MachineState.STOPPING, "shutting down"),
    5: (MachineState.STOPPED, "shut off"),
    6: (MachineState.CRASHED, "crashed"),
    7: (MachineState.SUSPENDED, "pmsuspended"),
}

# virDomainEventType values that mean "the domain is now running"
EVENT_STARTED = 2
EVENT_RESUMED = 4
EVENT_STOPPED = 5


@dataclass(frozen=True, slots=True)
class DomainXml:
    name: str
    uuid: str
    vcpus: int
    memory_kib: int
    hostdevs: tuple[str, ...]
    disks: tuple[Disk, ...]
    nics: tuple[Nic, ...]
    tags: tuple[tuple[str, str], ...]
    template: str | None


@dataclass(frozen=True, slots=True)
class PciDevice:
    address: str
    class_code: int
    product: str | None
    vendor: str | None
    driver: str | None
    numa_node: int | None

    @property
    def is_gpu(self) -> bool:
        """Display controllers (0x03) and processing accelerators (0x12)."""
        return (self.class_code >> 16) in (0x03, 0x12)


def state_of(code: int) -> tuple[MachineState, str]:
    return STATE_MAP.get(code, (MachineState.UNKNOWN, f"state {code}"))


def pci_address(el: ET.Element) -> str:
    """`<address domain='0x0000' bus='0x65' slot='0x00' function='0x0'/>` -> `0000:65:00.0`."""
    def num(attr: str) -> int:
        return int(el.get(attr, "0"), 0)

    return f"{num('domain'):04x}:{num('bus'):02x}:{num('slot'):02x}.{num('function'):x}"


def parse_domain(xml: str) -> DomainXml:
    root = ET.fromstring(xml)
    mem = root.find("memory")
    memory_kib = _to_kib(int(mem.text or 0), mem.get("unit", "KiB")) if mem is not None else 0
    hostdevs = []
    for hd in root.iterfind("devices/hostdev"):
        if hd.get("type") == "pci":
            addr = hd.find("source/address")
            if addr is not None:
                hostdevs.append(pci_address(addr))
    disks = []
    for d in root.iterfind("devices/disk"):
        src = d.find("source")
        target = d.find("target")
        source = ""
        if src is not None:
            source = src.get("file") or src.get("dev") or src.get("name") or (
                f"{src.get('pool')}/{src.get('volume')}" if src.get("volume") else "")
        disks.append(Disk(target=target.get("dev", "?") if target is not None else "?", source=source,
                          device=d.get("device", "disk")))
    nics = []
    for i in root.iterfind("devices/interface"):
        mac = i.find("mac")
        src = i.find("source")
        model = i.find("model")
        network = ""
        if src is not None:
            network = src.get("network") or src.get("bridge") or src.get("dev") or ""
        nics.append(Nic(mac=mac.get("address", "") if mac is not None else "", network=network,
                        model=model.get("type") if model is not None else None))
    tags: list[tuple[str, str]] = []
    template = None
    meta = root.find(f"metadata/{{{METADATA_NS}}}machine")
    if meta is not None:
        template = meta.get("template")
        for t in meta.iterfind(f"{{{METADATA_NS}}}tag"):
            if t.get("key"):
                tags.append((t.get("key", ""), t.text or ""))
    vcpu = root.find("vcpu")
    return DomainXml(
        name=root.findtext("name", ""), uuid=root.findtext("uuid", ""),
        vcpus=int(vcpu.text or 0) if vcpu is not None else 0, memory_kib=memory_kib,
        hostdevs=tuple(hostdevs), disks=tuple(disks), nics=tuple(nics), tags=tuple(tags), template=template,
    )


def parse_nodedev(xml: str) -> PciDevice | None:
    root = ET.fromstring(xml)
    cap = root.find("capability[@type='pci']")
    if cap is None:
        return None
    address = "{:04x}:{:02x}:{:02x}.{:x}".format(
        *(int(cap.findtext(k, "0"), 0) for k in ("domain", "bus", "slot", "function")))
    numa = cap.find("numa")
    return PciDevice(
        address=address, class_code=int(cap.findtext("class", "0"), 0),
        product=(cap.findtext("product") or None), vendor=(cap.findtext("vendor") or None),
        driver=root.findtext("driver/name"), numa_node=int(numa.get("node", "0")) if numa is not None else None,
    )


def gpu_model(product: str | None, address: str) -> str:
    """`GA100 [A100 SXM4 80GB]` -> `A100 SXM4 80GB` (pci.ids puts the marketing name in brackets)."""
    if not product:
        return f"PCI {address}"
    m = re.search(r"\[([^\]]+)\]", product)
    return m.group(1) if m else product


def gpus_of(dom: DomainXml, devices: dict[str, PciDevice]) -> tuple[GpuDevice, ...]:
    out = []
    for addr in dom.hostdevs:
        dev = devices.get(addr)
        if dev is not None and not dev.is_gpu:
            continue  # a passed-through NIC or NVMe drive is not a GPU
        out.append(GpuDevice(model=gpu_model(dev.product if dev else None, addr), pci_address=addr,
                             vendor=_short_vendor(dev.vendor) if dev else None))
    return tuple(out)


def _short_vendor(vendor: str | None) -> str | None:
    if vendor is None:
        return None
    for short in ("NVIDIA", "AMD", "Intel"):
        if short.lower() in vendor.lower():
            return short
    return vendor


def to_machine(*, source: str, location: str, dom: DomainXml, state_code: int, devices: dict[str, PciDevice],
               addresses: tuple[str, ...], cpu_time_ns: int | None, cpu_percent: float | None,
               started_at: datetime | None) -> Machine:
    state, native = state_of(state_code)
    nics = tuple(n for n in dom.nics)
    return Machine(
        source=source, name=dom.name, provider="libvirt", location=location, state=state, native_state=native,
        vcpus=dom.vcpus, memory_mib=dom.memory_kib // 1024, gpus=gpus_of(dom, devices), addresses=addresses,
        tags=dom.tags, uid=dom.uuid, started_at=started_at if state.is_on else None,
        cpu_time_ns=cpu_time_ns, cpu_percent=cpu_percent, disks=dom.disks, nics=nics, template=dom.template,
    )


def host_gpus(source: str, devices: dict[str, PciDevice], holders: dict[str, tuple[str, bool]]) -> list[HostGpu]:
    """Every GPU the host has, with the domain that has it passed through (running ones win)."""
    out = []
    for addr, dev in sorted(devices.items()):
        if not dev.is_gpu:
            continue
        holder = holders.get(addr)
        out.append(HostGpu(
            source=source, pci_address=addr, model=gpu_model(dev.product, addr), vendor=_short_vendor(dev.vendor),
            numa_node=dev.numa_node, assigned_to=holder[0] if holder else None,
            assigned_running=holder[1] if holder else False, driver=dev.driver,
        ))
    return out


_UNITS = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024, "m": 1024, "mib": 1024,
          "mb": 1e6 / 1024, "g": 1024**2, "gib": 1024**2, "gb": 1e9 / 1024, "t": 1024**3, "tib": 1024**3}


def _to_kib(value: int, unit: str) -> int:
    return int(value * _UNITS.get(unit.lower(), 1))
