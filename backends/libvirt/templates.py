"""Provisioning templates: shipped domain XML files, filled in with ElementTree (no string
substitution, so a name or tag can never inject XML)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from backends.libvirt.translate import METADATA_NS, _to_kib
from cockpit.contracts import NotFound
from cockpit.model import ProvisionSpec, Template

TEMPLATE_DIR = Path(__file__).parent / "templates"
ET.register_namespace("cockpit", METADATA_NS)


@dataclass(frozen=True, slots=True)
class LoadedTemplate:
    info: Template
    root: ET.Element
    pool: str


def available() -> list[LoadedTemplate]:
    return [load(p.stem) for p in sorted(TEMPLATE_DIR.glob("*.xml"))]


def load(name: str) -> LoadedTemplate:
    path = TEMPLATE_DIR / f"{name}.xml"
    if not path.is_file() or "/" in name:
        names = ", ".join(p.stem for p in sorted(TEMPLATE_DIR.glob("*.xml")))
        raise NotFound(f"no template {name!r} (templates: {names})")
    root = ET.parse(path).getroot()
    meta = root.find(f"metadata/{{{METADATA_NS}}}template")
    mem = root.find("memory")
    memory_kib = _to_kib(int(mem.text or 0), mem.get("unit", "KiB")) if mem is not None else 0
    info = Template(
        name=name,
        description=meta.get("description", "") if meta is not None else "",
        vcpus=int(root.findtext("vcpu", "1")),
        memory_mib=memory_kib // 1024,
        disk_gib=int(meta.get("disk_gib", "20")) if meta is not None else 20,
        gpus=len(root.findall("devices/hostdev")),
    )
    return LoadedTemplate(info, root, meta.get("pool", "default") if meta is not None else "default")


def render(tpl: LoadedTemplate, spec: ProvisionSpec, *, domain_type: str, disk_path: str) -> str:
    """The domain XML for `spec`: template values overridden by what the command asked for."""
    root = ET.fromstring(ET.tostring(tpl.root))
    root.set("type", domain_type)
    _set(root, "name", spec.name)
    uid = root.find("uuid")
    if uid is None:
        uid = ET.Element("uuid")
        root.insert(1, uid)
    uid.text = str(uuid.uuid4())
    vcpus = spec.vcpus or tpl.info.vcpus
    memory_kib = (spec.memory_mib or tpl.info.memory_mib) * 1024
    _set(root, "vcpu", str(vcpus))
    for tag in ("memory", "currentMemory"):
        el = root.find(tag)
        if el is not None:
            el.text = str(memory_kib)
            el.set("unit", "KiB")
    disk = root.find("devices/disk[@device='disk']/source")
    if disk is not None:
        disk.attrib.clear()
        disk.set("file", disk_path)
    if domain_type == "test":
        _strip_for_test_driver(root)
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    for addr in spec.gpus:
        dom, bus, rest = addr.split(":")
        slot, fn = rest.split(".")
        hd = ET.SubElement(devices, "hostdev", mode="subsystem", type="pci", managed="yes")
        src = ET.SubElement(hd, "source")
        ET.SubElement(src, "address", domain=f"0x{dom}", bus=f"0x{bus}", slot=f"0x{slot}", function=f"0x{fn}")
    metadata = root.find("metadata")
    if metadata is None:
        metadata = ET.SubElement(root, "metadata")
    for old in metadata.findall(f"{{{METADATA_NS}}}template"):
        metadata.remove(old)
    machine = ET.SubElement(metadata, f"{{{METADATA_NS}}}machine", template=tpl.info.name)
    for key, value in spec.tags:
        t = ET.SubElement(machine, f"{{{METADATA_NS}}}tag", key=key)
        t.text = value
    return ET.tostring(root, encoding="unicode")


def volume_xml(name: str, gib: int) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    cap = ET.SubElement(vol, "capacity", unit="GiB")
    cap.text = str(gib)
    # qcow2 is thin: nothing is allocated up front, which is also what lets a pool be overcommitted
    ET.SubElement(vol, "allocation", unit="GiB").text = "0"
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type="qcow2")
    return ET.tostring(vol, encoding="unicode")


def _set(root: ET.Element, tag: str, text: str) -> None:
    el = root.find(tag)
    if el is None:
        el = ET.SubElement(root, tag)
    el.text = text


def _strip_for_test_driver(root: ET.Element) -> None:
    """The test driver knows no q35 machine, KVM features or host CPU; drop what it would reject."""
    ostype = root.find("os/type")
    if ostype is not None:
        ostype.attrib.pop("machine", None)
    for tag in ("features", "cpu"):
        el = root.find(tag)
        if el is not None:
            root.remove(el)
