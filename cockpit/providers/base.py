"""What a provider descriptor says about a kind of source, in one frozen record.

Why one record per kind: the rules of a cloud (which zone is in which region, when a stopped VM
still bills, which options `vm provision` takes, what destroying is called, what a person may do
to its machines) were spread over a dozen modules as `if provider == "gcp"` branches, so a new
cloud meant hunting them all. Now each kind states them once (in the manner of SkyPilot's `Cloud`
and Libcloud's drivers) and the core asks the descriptor. A new kind touches its descriptor, its
adapter (backends/) and its emulator (cockpit/sandbox/).

Pure data and small pure functions: importing a descriptor loads neither an SDK nor pydantic
(its config schema is a module of its own, imported only when a config file is parsed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MACHINE_ACTIONS = frozenset({"start", "stop", "reboot", "force-off", "suspend", "resume"})
"""The lifecycle actions a machines source may offer (`vm ACTION`); each kind says which it has."""


def same(location: str) -> str:
    return location


def never(_: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of the provision form, which is also one option `vm provision` takes for the kind."""

    option: str
    """`--type`; `where` is the part after SOURCE/ (a VM name, a region, a zone)."""
    label: str
    placeholder: str = ""
    flag: bool = False
    many: bool = False
    """Space-separated values, one option each (--tag a=b --tag c=d)."""
    required: bool = False
    why: str = ""
    """Why the kind needs it, said when it is missing."""


@dataclass(frozen=True, slots=True)
class Provider:
    kind: str
    """The `kind = "..."` of a `[sources.NAME]` table."""
    title: str
    """What its users call it: "EC2", "Compute Engine", "Azure", "libvirt"."""
    module: str
    """Its backend module, imported by name only when a source of this kind is first used."""
    roles: frozenset[str]
    """The roles (cockpit.contracts' Role names) its sources play; the hub refuses any other."""
    extra: str = ""
    """The package extra that installs its SDK (`pip install 'gpu-cockpit[EXTRA]'`)."""
    connects: bool = False
    """Its backend's constructor opens a connection (which may hang), so the hub builds it outside
    the SDK import lock and gives it no build grace."""
    capabilities: frozenset[str] = frozenset()
    """What a person may do through it: machine actions (MACHINE_ACTIONS), `destroy`, `provision`,
    and the cluster or registry verbs. Consulted before an action is offered (the UI hides it, a
    script line naming it is refused before anything runs)."""
    refusals: Mapping[str, str] = field(default_factory=dict)
    """capability -> why this kind has not got it (shown when someone asks for it)."""
    host_gpus: bool = False
    """Its host lends GPUs to machines by PCI passthrough (the Overview's Host GPUs, `vm gpus`): a
    cloud's GPUs come with the instance type, and saying its host has none would be false."""
    destroy_verb: str = "destroy"
    """What deleting one of its machines is called: `destroy` (libvirt undefines), `terminate`."""
    destroy_note: str = ""
    """What goes with a terminated machine, in the cloud's own words (its console decides per disk)."""
    # -- provisioning -----------------------------------------------------------------------------
    where: str = ""
    """What `vm provision SOURCE/WHERE` names: "name" (a libvirt VM), "region", "zone"."""
    where_setting: str = ""
    """The source setting whose first entry the provision form starts from ("regions", "zones")."""
    form: tuple[FormField, ...] = ()
    """The provision form's fields, in order; also the options `vm provision` takes for the kind."""
    not_taken: Mapping[str, str] = field(default_factory=dict)
    """option -> why the kind does not take it (default: see 'help vm provision')."""
    zone_in: Callable[[str, Sequence[str]], str] | None = None
    """Where to provision in a region, given the source's configured zones (Compute Engine
    provisions in a zone; the others take the region itself)."""
    # -- billing ----------------------------------------------------------------------------------
    region: Callable[[str], str] = same
    """A machine's billing region from its location (us-east-1a -> us-east-1); libvirt: its host."""
    catalogue: bool = False
    """Priced from the price catalogue (a cloud); otherwise by the on-prem model."""
    billed_off: Callable[[str], bool] = never
    """Whether a powered-off machine, by its native state, still bills (Azure until deallocated)."""
    gpus_apart: Callable[[str], bool] = never
    """Whether a machine type's GPUs are priced apart from it (Compute Engine's N1 + attached GPUs)."""
    node_labels: tuple[str, ...] = ()
    """Label prefixes its managed Kubernetes service sets on a node (EKS, GKE, AKS, Karpenter)."""
    spot_labels: tuple[tuple[str, str], ...] = ()
    """(label, value in lower case) marking a node as spot capacity in its managed Kubernetes."""
    price_api: str = ""
    """The price API `cost catalogue refresh` reads."""
    geography: Callable[[str], str] = same
    """A region named so that a prefix picks a geography in every cloud (Azure's eastus -> us-eastus)."""
    spend_unread: str = ""
    """Why its billed spend is not read, for a cloud without the spend role."""

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def cannot(self, capability: str) -> str:
        """One line for a refused capability: what, and why when the descriptor says."""
        why = self.refusals.get(capability)
        return f"{self.title} cannot {capability}" + (f" ({why})" if why else "")

    def plays(self, role: str) -> bool:
        return role in self.roles

    def form_options(self) -> frozenset[str]:
        return frozenset(f.option for f in self.form if f.option != "where")

    def settings_schema(self) -> type[Any]:
        """Its `[sources.NAME]` schema (pydantic): imported only when a config file is parsed."""
        module = importlib.import_module(f"cockpit.providers.{self.kind}_settings")
        schema: type[Any] = module.Settings
        return schema

