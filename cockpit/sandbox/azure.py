"""A local fake of Azure Resource Manager's compute API, for the demo and the tests: what
azure-mgmt-compute's virtual_machines and resource_skus operations ask of it, in the public JSON
shapes (`value`/`nextLink` pages, instance views, long-running operations answered 202 with an
Azure-AsyncOperation URL that reports InProgress once and then Succeeded, errors as
`{"error": {"code", "message"}}`).

It serves https only: the Azure SDK sends a bearer token over nothing else. The certificate comes
from trustme, a throwaway CA that the source trusts through `ca_bundle`.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.config import SourceConfig
from cockpit.sandbox import stopping
from cockpit.sandbox.cloudfake import HttpError, JsonFake, Obj, Reply
from cockpit.sandbox.lazy import LazyService

S = r"/subscriptions/([^/]+)"
VM = S + r"/resourceGroups/([^/]+)/providers/Microsoft\.Compute/virtualMachines"
TOKEN_ENV = "COCKPIT_DEMO_AZURE_TOKEN"


@dataclass(frozen=True)
class Size:
    vcpus: int
    memory_gb: float
    gpus: int = 0


# public figures (learn.microsoft.com/azure/virtual-machines/sizes)
SIZES: dict[str, Size] = {
    "Standard_ND96isr_H100_v5": Size(96, 1900, 8),
    "Standard_ND96amsr_A100_v4": Size(96, 1900, 8),
    "Standard_NC24ads_A100_v4": Size(24, 220, 1),
    "Standard_NC40ads_H100_v5": Size(40, 320, 1),
    "Standard_NV36ads_A10_v5": Size(36, 440, 1),
    "Standard_NC4as_T4_v3": Size(4, 28, 1),
    "Standard_D8s_v5": Size(8, 32),
    "Standard_D4s_v5": Size(4, 16),
}
_ops = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _error(status: int, code: str, message: str) -> HttpError:
    return HttpError(status, {"error": {"code": code, "message": message}})


class ArmFake(JsonFake):
    """Subscriptions -> VMs (by resource group and name); `locations` holds the sizes' regions."""

    def __init__(self, subscriptions: list[str], locations: tuple[str, ...] = ("eastus", "westus2")) -> None:
        super().__init__()
        self.subscriptions = set(subscriptions)
        self.locations = locations
        self.vms: dict[tuple[str, str, str], Obj] = {}
        self.power: dict[tuple[str, str, str], str] = {}
        self.operations: dict[str, tuple[int, Any]] = {}
        self.page_size = 50
        self.no_spot: set[str] = set()
        """Regions out of spot capacity: a Spot VM created there fails with AllocationFailed."""
        self.route("GET", S + r"/providers/Microsoft\.Compute/virtualMachines", self._list_all)
        self.route("GET", VM, self._list_group)
        self.route("GET", VM + r"/([^/]+)", self._get)
        self.route("PUT", VM + r"/([^/]+)", self._put)
        self.route("DELETE", VM + r"/([^/]+)", self._delete)
        self.route("POST", VM + r"/([^/]+)/(start|powerOff|deallocate|restart)", self._act)
        self.route("GET", S + r"/providers/Microsoft\.Compute/skus", self._skus)
        self.route("GET", S + r"/providers/Microsoft\.Compute/locations/([^/]+)/operations/([^/]+)", self._operation)
        from cockpit.prices import bundled
        from cockpit.sandbox.azure_prices import retail_items, serve_retail

        self.retail = retail_items(bundled())
        """The retail prices API's items (the bundled catalogue's Azure rows); a test replaces them in place."""
        serve_retail(self, self.retail)
        from cockpit.sandbox.azure_costs import Charges, serve_costs

        self.charges: Charges = {s: [] for s in subscriptions}
        """Cost Management's answers: subscription -> (day, service, $); a test fills them."""
        serve_costs(self, self.charges)

    def error_body(self, status: int, message: str) -> Obj:
        code = {429: "TooManyRequests", 403: "AuthorizationFailed"}.get(status, "InternalServerError")
        return {"error": {"code": code, "message": message}}

    # -- seeding -----------------------------------------------------------------------------
    def add(self, sub: str, group: str, name: str, size: str, location: str, *, power: str = "running",
            spot: bool = False, tags: dict[str, str] | None = None, zone: str | None = None,
            started: datetime | None = None) -> Obj:
        """A VM as if it had been created (at `started`, default now) and left in `power`."""
        body: Obj = {"location": location, "tags": tags or {}, "properties": {
            "hardwareProfile": {"vmSize": size}, "priority": "Spot" if spot else "Regular",
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                                  "sku": "server", "version": "latest"}}}}
        if spot:
            body["properties"] |= {"evictionPolicy": "Deallocate", "billingProfile": {"maxPrice": -1}}
        if zone:
            body["zones"] = [zone]
        vm = self._create(sub, group, name, body)
        if started is not None:
            vm["properties"]["timeCreated"] = vm["properties"]["_changed"] = started.isoformat()
        self.power[sub, group.lower(), name] = power
        return vm

    # -- reads -------------------------------------------------------------------------------
    def _sub(self, sub: str) -> None:
        if sub not in self.subscriptions:
            raise _error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def _view(self, key: tuple[str, str, str]) -> Obj:
        power = self.power.get(key, "unknown")
        return {"statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
             "time": self.vms[key]["properties"].get("_changed", _now())},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"}]}

    def _shown(self, key: tuple[str, str, str], view: bool) -> Obj:
        vm = self.vms[key]
        props = {k: v for k, v in vm["properties"].items() if not k.startswith("_")}
        return vm | {"properties": props | ({"instanceView": self._view(key)} if view else {})}

    def _page(self, keys: list[tuple[str, str, str]], query: dict[str, str], base: str, view: bool) -> Reply:
        start = int(query.get("$skiptoken") or 0)
        out: Obj = {"value": [self._shown(k, view) for k in keys[start:start + self.page_size]]}
        if start + self.page_size < len(keys):
            extra = "&statusOnly=true" if query.get("statusOnly") else ""
            out["nextLink"] = f"{self.url}{base}?api-version={query.get('api-version', '')}{extra}" \
                              f"&$skiptoken={start + self.page_size}"
        return 200, out

    def _list_all(self, sub: str, query: dict[str, str], **_: Any) -> Reply:
        self._sub(sub)
        keys = sorted(k for k in self.vms if k[0] == sub)
        return self._page(keys, query, f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines",
                          query.get("statusOnly") == "true")

    def _list_group(self, sub: str, group: str, query: dict[str, str], **_: Any) -> Reply:
        self._sub(sub)
        keys = sorted(k for k in self.vms if k[0] == sub and k[1] == group.lower())
        return self._page(keys, query, f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/"
                          "virtualMachines", query.get("$expand") == "instanceView")

    def _key(self, sub: str, group: str, name: str) -> tuple[str, str, str]:
        self._sub(sub)
        key = (sub, group.lower(), name)
        if key not in self.vms:
            raise _error(404, "ResourceNotFound", f"The Resource 'Microsoft.Compute/virtualMachines/{name}' under "
                         f"resource group '{group}' was not found.")
        return key

    def _get(self, sub: str, group: str, name: str, query: dict[str, str], **_: Any) -> Reply:
        return 200, self._shown(self._key(sub, group, name), query.get("$expand") == "instanceView")

    def _skus(self, sub: str, query: dict[str, str], **_: Any) -> Reply:
        self._sub(sub)
        wanted = query.get("$filter", "").partition("'")[2].rstrip("'") or None
        return 200, {"value": [
            {"resourceType": "virtualMachines", "name": name, "tier": "Standard", "size": name.split("_", 1)[1],
             "locations": [loc], "locationInfo": [{"location": loc, "zones": ["1", "2", "3"]}],
             "capabilities": [{"name": "vCPUs", "value": str(s.vcpus)},
                              {"name": "MemoryGB", "value": f"{s.memory_gb:g}"}]
             + ([{"name": "GPUs", "value": str(s.gpus)}] if s.gpus else []), "restrictions": []}
            for name, s in SIZES.items() for loc in self.locations if wanted in (None, loc)]}

    # -- changes -----------------------------------------------------------------------------
    def _create(self, sub: str, group: str, name: str, body: Obj) -> Obj:
        self._sub(sub)
        props = dict(body.get("properties") or {})
        if (sub, group.lower(), name) in self.vms and self.vms[sub, group.lower(), name]["properties"].get(
                "hardwareProfile") != props.get("hardwareProfile"):
            raise _error(409, "PropertyChangeNotAllowed", "Changing property 'hardwareProfile' is not allowed.")
        size = str((props.get("hardwareProfile") or {}).get("vmSize") or "")
        if size not in SIZES:
            raise _error(400, "InvalidParameter", f"The value {size} provided for the VM size is not valid.")
        if not (props.get("storageProfile") or {}).get("imageReference"):
            raise _error(400, "InvalidParameter", "Required parameter 'imageReference' is missing (null).")
        # as Azure answers: the OS disk it made, named and sized (the image's 30 GB unless asked for more)
        storage = dict(props["storageProfile"])
        storage["osDisk"] = {"osType": "Linux", "name": f"{name}_OsDisk_1", "diskSizeGB": 30,
                             "createOption": "FromImage"} | dict(storage.get("osDisk") or {})
        props["storageProfile"] = storage
        vm: Obj = {"name": name, "id": f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/"
                   f"virtualMachines/{name}", "type": "Microsoft.Compute/virtualMachines",
                   "location": body.get("location"), "tags": dict(body.get("tags") or {}),
                   "properties": props | {"vmId": str(uuid.uuid4()), "provisioningState": "Succeeded",
                                          "timeCreated": _now(), "_changed": _now()}}
        if body.get("zones"):
            vm["zones"] = list(body["zones"])
        self.vms[sub, group.lower(), name] = vm
        return vm

    def _lro(self, sub: str, location: str, effect: Any) -> tuple[int, Any, dict[str, str]]:
        op = f"{uuid.uuid4()}-{next(_ops)}"
        self.operations[op] = (0, effect)
        url = f"{self.url}/subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/operations/{op}" \
              "?api-version=2024-07-01"
        return 202, None, {"Azure-AsyncOperation": url, "Retry-After": "0"}

    def _operation(self, sub: str, location: str, op: str, **_: Any) -> Reply:
        if op not in self.operations:
            raise _error(404, "NotFound", f"operation {op} not found")
        polls, effect = self.operations[op]
        if polls == 0:  # InProgress once, so that the client's polling loop runs
            self.operations[op] = (1, effect)
            return 200, {"name": op, "status": "InProgress", "startTime": _now()}
        if polls == 1:
            self.operations[op] = (2, None)
            error = effect() if effect else None
            if isinstance(error, dict):
                self.operations[op] = (3, error)
        if self.operations[op][0] == 3:
            return 200, {"name": op, "status": "Failed", "startTime": _now(), "endTime": _now(),
                         "error": self.operations[op][1]}
        return 200, {"name": op, "status": "Succeeded", "startTime": _now(), "endTime": _now()}

    def _put(self, sub: str, group: str, name: str, body: Any, **_: Any) -> Reply:
        vm = self._create(sub, group, name, body or {})
        key = (sub, group.lower(), name)
        self.power[key] = "starting"
        refused = vm["properties"].get("priority") == "Spot" and vm["location"] in self.no_spot

        def effect() -> Obj | None:
            if refused:  # as Azure does, the failed VM is left for the caller to delete; here it goes at once
                self.vms.pop(key, None)
                self.power.pop(key, None)
                return {"code": "AllocationFailed", "message": "Allocation failed. We do not have sufficient capacity "
                        "for the requested VM size in this region."}
            self.power[key] = "running"
            return None

        headers = self._lro(sub, str(vm["location"]), effect)[2]
        return 201, self._shown(key, False), headers

    def _delete(self, sub: str, group: str, name: str, **_: Any) -> Reply:
        key = self._key(sub, group, name)
        self.power[key] = "stopping"
        return self._lro(sub, str(self.vms[key]["location"]), lambda: (self.vms.pop(key), self.power.pop(key)))

    def _act(self, sub: str, group: str, name: str, verb: str, query: dict[str, str], **_: Any) -> Reply:
        key = self._key(sub, group, name)
        after = {"start": "running", "restart": "running", "powerOff": "stopped", "deallocate": "deallocated"}[verb]
        if verb == "restart" and self.power[key] != "running":
            raise _error(409, "OperationNotAllowed", f"Operation 'restart' is not allowed on VM '{name}' since the "
                         f"VM is {self.power[key]}.")

        def effect() -> None:
            self.power[key] = after
            self.vms[key]["properties"]["_changed"] = _now()

        return self._lro(sub, str(self.vms[key]["location"]), effect)


DEMO_SUBSCRIPTION = "6d2f0b8e-3c1a-4f5e-9b7d-2a4c6e8f0a1b"


def seed_demo(fake: ArmFake, now: datetime | None = None) -> None:
    """A handful of GPU and CPU VMs in two US regions of one subscription (those the bundled price
    catalogue covers), started a while before `now`."""
    s, now = DEMO_SUBSCRIPTION, now or datetime.now(UTC)
    fake.add(s, "ml-train", "nd-h100-0", "Standard_ND96isr_H100_v5", "eastus", zone="1",
             tags={"team": "llm-pretrain", "env": "prod"}, started=now - timedelta(days=4, hours=2))
    fake.add(s, "ml-train", "nc-a100-spot", "Standard_NC24ads_A100_v4", "eastus", spot=True,
             tags={"team": "research"}, started=now - timedelta(hours=19))
    fake.add(s, "serving", "nv-a10-serve", "Standard_NV36ads_A10_v5", "westus2", tags={"team": "serving"},
             started=now - timedelta(days=9, hours=3))
    fake.add(s, "serving", "t4-batch", "Standard_NC4as_T4_v3", "westus2", power="deallocated",
             tags={"team": "search"}, started=now - timedelta(days=21))
    fake.add(s, "platform", "jumpbox", "Standard_D4s_v5", "westus2", tags={"team": "platform"},
             started=now - timedelta(days=40))
    from cockpit.prices import bundled
    from cockpit.sandbox.azure_costs import demo_charges

    offers = bundled().offers
    hourly = 0.0
    for key, vm in fake.vms.items():
        offer = offers.get(("azure", vm["properties"]["hardwareProfile"]["vmSize"], vm["location"]))
        if key[0] == s and offer is not None and fake.power.get(key) == "running":
            spot = vm["properties"].get("priority") == "Spot"
            hourly += (offer.spot if spot else offer.on_demand) or 0.0
    fake.charges[s][:] = demo_charges(now.date(), hourly)


def azure_source(name: str, endpoint: str, ca_bundle: str, subscriptions: tuple[str, ...] = (DEMO_SUBSCRIPTION,),
                 token_env: str = TOKEN_ENV) -> SourceConfig:
    return SourceConfig(name, "azure", timeout_seconds=30, colour="cyan", label="azure",
                        settings={"subscriptions": list(subscriptions), "endpoint": endpoint, "ca_bundle": ca_bundle,
                                  "token_env": token_env, "max_attempts": 3,
                                  "prices_url": f"{endpoint}/api/retail/prices"})


def tls(ca_path: str) -> Any:
    """A server context with a certificate for 127.0.0.1 from a fresh trustme CA, whose PEM goes
    to `ca_path` (the client's ca_bundle)."""
    import ssl

    import trustme

    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    ca.cert_pem.write_to_path(ca_path)
    return ctx


class LazyAzure(LazyService):
    """The demo's Azure, started on first use on a port chosen now; its CA file's path is known
    up front too, so the source's config is complete from the start."""

    fake: ArmFake | None = None
    imports = ("ssl", "trustme", "cockpit.prices", "cockpit.sandbox.azure_prices", "cockpit.sandbox.azure_costs")

    def __init__(self) -> None:
        super().__init__()
        workdir = tempfile.mkdtemp(prefix="cockpit-demo-azure-")
        stopping.remove_at_exit(workdir)
        self.ca_path = os.path.join(workdir, "ca.pem")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _start(self) -> None:
        os.environ[TOKEN_ENV] = "cockpit-demo-token"  # a bearer token only the fake accepts, in this process only
        fake = ArmFake([DEMO_SUBSCRIPTION])
        fake.token = os.environ[TOKEN_ENV]
        fake.start(self.port, tls(self.ca_path))
        seed_demo(fake)
        self.fake = fake
