"""libvirt: HPC VMs with GPUs passed through, on a host libvirt manages (local or over SSH)."""

from __future__ import annotations

from cockpit.providers.base import MACHINE_ACTIONS, FormField, Provider

PROVIDER = Provider(
    kind="libvirt", title="libvirt", module="backends.libvirt", roles=frozenset({"machines"}), extra="libvirt",
    connects=True,
    capabilities=MACHINE_ACTIONS | {"destroy", "provision"},
    host_gpus=True,
    destroy_verb="destroy",
    where="name",
    form=(
        FormField("where", "name", "gpu-vm-01", required=True),
        FormField("--template", "template", "see 'vm templates'", required=True, why="see 'vm templates'"),
        FormField("--vcpus", "vCPUs", "template's"),
        FormField("--memory", "memory", "64G"),
        FormField("--disk", "disk", "200G"),
        FormField("--gpu", "GPUs (PCI)", "0000:65:00.0", many=True),
        FormField("--tag", "tags", "team=ml env=dev", many=True),
        FormField("--start", "start it", flag=True),
    ),
    # region: the host itself (what the region grouping shows); priced by the on-prem model
)
