"""Azure VMs through azure-mgmt-compute: the VMs of every configured subscription (or of chosen
resource groups) with their power state from the instance view, sizes from the resource SKUs
(cached per region), lifecycle actions and deletion as long-running operations with an explicit
polling interval and a deadline.

Retries: azure-core's own policy (429 and 5xx, honouring Retry-After, exponential backoff),
bounded by `max_attempts`. Credentials: DefaultAzureCredential, or a bearer token read from the
environment variable `token_env` names (for `az account get-access-token` in CI, and the demo).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from backends._fanout import fan_out
from backends._lazy import require
from backends.azure.translate import SizeInfo, gpus, machine, size_info, where
from backends.cloud import CloudBackend, Listed, as_json, first_line, one_by_one, taken, with_retries
from cockpit.contracts import (
    BackendError,
    BackendFault,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    CockpitError,
    Conflict,
    Forbidden,
    NotFound,
    Unsupported,
)
from cockpit.model import CloudOffer, CloudProvisionSpec, Machine, Provisioned
from cockpit.prices import Offer
from cockpit.spend import Spend, SpendLine

# cockpit action -> (operation, its keyword arguments, the verb an error names)
ACTIONS: Mapping[str, tuple[str, Mapping[str, Any], str]] = {
    "start": ("begin_start", {}, "start"), "resume": ("begin_start", {}, "start"),
    # Stop releases the compute (and its bill), as the portal's Stop does; force-off keeps it allocated
    "stop": ("begin_deallocate", {}, "deallocate"),
    "force-off": ("begin_power_off", {"skip_shutdown": True}, "power off"),
    "reboot": ("begin_restart", {}, "restart"),
    "suspend": ("begin_deallocate", {"hibernate": True}, "hibernate"),
}


ALLOCATION_FAILED = ("AllocationFailed", "OverconstrainedAllocationRequest", "ZonalAllocationFailed",
                     "SkuNotAvailable")
"""What a create ends with when the region has no (spot) capacity: --fallback on-demand applies."""


class _StaticToken:
    """A credential holding one access token, for `token_env`: the SDK asks it for a token per call."""

    def __init__(self, token: str) -> None:
        self._token = require("azure.core.credentials", "azure").AccessToken(token, int(time.time()) + 3600)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token


class AzureBackend(CloudBackend):
    kind = "azure"
    scope_word = "subscription"

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        compute = require("azure.mgmt.compute", "azure")
        self._exc = require("azure.core.exceptions", "azure")
        subscriptions = list(settings.get("subscriptions") or [])
        if not subscriptions:
            raise BadInput(f"{source}: no subscription: set subscriptions = [\"<id>\", ...] for the source")
        super().__init__(source, subscriptions)
        token_env = settings.get("token_env")
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                raise BadInput(f"{source}: token_env: the environment variable {token_env} is not set")
            credential: Any = _StaticToken(token)
        else:
            credential = require("azure.identity", "azure").DefaultAzureCredential()
        self.groups = list(settings.get("resource_groups") or [])
        self._op_timeout = float(settings.get("operation_timeout_seconds") or 900)
        kw: dict[str, Any] = {"retry_total": int(settings.get("max_attempts") or 5) - 1, "retry_backoff_factor": 0.5,
                              "retry_backoff_max": 8, "connection_timeout": 5, "read_timeout": 30}
        if settings.get("endpoint"):
            kw["base_url"] = str(settings["endpoint"])
        if settings.get("ca_bundle"):
            kw["connection_verify"] = str(settings["ca_bundle"])
        self._where = str(settings.get("endpoint") or "management.azure.com")
        self._prices_url = str(settings.get("prices_url") or "https://prices.azure.com/api/retail/prices")
        self._verify: str | bool = str(settings["ca_bundle"]) if settings.get("ca_bundle") else True
        self._attempts = int(settings.get("max_attempts") or 5)
        self._clients = {s: compute.ComputeManagementClient(credential, s, **kw) for s in subscriptions}
        self._credential, self._client_kw = credential, kw
        self._sizes: dict[tuple[str, str], dict[str, SizeInfo]] = {}  # (subscription, region) -> size -> info
        self._lock = threading.Lock()

    # -- errors ------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, sub: str, what: str) -> Iterator[None]:
        exc = self._exc
        try:
            yield
        except exc.ClientAuthenticationError as e:
            if getattr(e, "status_code", None) is None:  # no answer from ARM: the credential itself failed
                raise BackendUnavailable(f"{self.source}: no Azure credentials ({first_line(e.message)}): run az "
                                         "login, or set token_env for the source") from None
            raise Forbidden(f"{self.source}: {sub}: the token was refused (HTTP {e.status_code})") from None
        except exc.ResourceNotFoundError as e:
            raise NotFound(f"{self.source}: {sub}: {first_line(e.message)}") from None
        except (exc.ResourceExistsError, exc.ResourceModifiedError) as e:
            raise Conflict(f"{self.source}: cannot {what}: {first_line(e.message)}") from None
        except exc.HttpResponseError as e:
            code = getattr(getattr(e, "error", None), "code", None) or f"HTTP {e.status_code}"
            if e.status_code == 403:
                raise Forbidden(f"{self.source}: {sub}: not allowed to {what} ({code})") from None
            if e.status_code == 409:
                raise Conflict(f"{self.source}: cannot {what}: {first_line(e.message)}") from None
            error = BackendFault if (e.status_code or 0) >= 500 else BackendError
            raise error(f"{self.source}: {sub}: {what}: {code}: {first_line(e.message)}") from None
        except exc.ServiceRequestError:
            raise BackendUnavailable(f"{self.source}: cannot reach Azure Resource Manager at {self._where}") from None
        except exc.ServiceResponseTimeoutError:
            raise BackendTimeout(f"{self.source}: {sub}: Azure did not answer {what} in time") from None
        except exc.ServiceResponseError as e:  # the connection broke mid-answer (reset, closed): not a timeout
            raise BackendUnavailable(f"{self.source}: {sub}: the connection to {self._where} broke during {what}: "
                                     f"{first_line(e.message)}") from None

    # -- reads -------------------------------------------------------------------------------
    def ping(self) -> None:
        sub = self.scopes[0]
        with self._errors(sub, "list VMs"):
            next(iter(self._clients[sub].virtual_machines.list_all(status_only="true").by_page()), None)

    def _list(self, sub: str) -> list[Listed]:
        ops = self._clients[sub].virtual_machines
        with self._errors(sub, "list VMs"):
            if self.groups:
                vms = [vm for g in self.groups for vm in ops.list(g, expand="instanceView")]
            else:
                vms = list(ops.list_all(status_only="true"))
        out = [self._listed(sub, vm.as_dict()) for vm in vms]
        for region in sorted({str(i.raw.get("location")) for i in out}):
            self._sizes_in(sub, region)
        return out

    def _listed(self, sub: str, raw: dict[str, Any]) -> Listed:
        group, name = where(str(raw.get("id") or ""))
        fallback = f"{name}.{group.lower()}" if len(self.scopes) == 1 else f"{name}.{group.lower()}.{sub[:8]}"
        return Listed(sub, str(raw.get("id", "")).lower(), name, fallback, raw, {"group": group, "name": name})

    def _machine(self, item: Listed, name: str) -> Machine:
        size = str(((item.raw.get("properties") or {}).get("hardwareProfile") or {}).get("vmSize") or "")
        info = self._sizes.get((item.scope, str(item.raw.get("location"))), {}).get(size)
        return machine(self.source, item.raw, info, name)

    # -- changes -----------------------------------------------------------------------------
    def _run(self, sub: str, what: str, begin: Callable[[], Any]) -> None:
        """Start a long-running operation and wait for it, at most the operation timeout."""
        with self._errors(sub, what):
            poller = begin()
            poller.result(timeout=self._op_timeout)
            if not poller.done():
                raise BackendTimeout(f"{self.source}: {what} still running after {self._op_timeout:g}s; it may yet "
                                     "finish")

    def _get(self, sub: str, group: str, name: str) -> Listed:
        with self._errors(sub, f"get {name}"):
            vm = self._clients[sub].virtual_machines.get(group, name, expand="instanceView")
        return self._listed(sub, vm.as_dict())

    def act(self, name: str, action: str) -> Machine:
        item, shown = self._find(name)
        if action not in ACTIONS:
            raise Unsupported(f"{self.source}: Azure has no {action!r}")
        method, kw, verb = ACTIONS[action]
        sub, group, vm = item.scope, item.where["group"], item.where["name"]
        ops = self._clients[sub].virtual_machines
        self._run(sub, f"{verb} {vm}", lambda: getattr(ops, method)(group, vm, polling_interval=0, **kw))
        return self._machine(self._get(sub, group, vm), shown)

    def destroy(self, name: str, remove_storage: bool) -> str:
        """Delete; returns the VM as it was, for the audit log. Disks and NICs go with it only where
        their deleteOption says Delete: Azure decides per resource."""
        item, _ = self._find(name)
        sub, group, vm = item.scope, item.where["group"], item.where["name"]
        ops = self._clients[sub].virtual_machines
        self._run(sub, f"delete {vm}", lambda: ops.begin_delete(group, vm, polling_interval=0))
        return as_json(item.raw)

    # -- provisioning ------------------------------------------------------------------------
    def _sizes_in(self, sub: str, region: str) -> dict[str, SizeInfo]:
        if (sub, region) not in self._sizes:
            with self._errors(sub, f"list sizes in {region}"):
                skus = [s.as_dict() for s in self._clients[sub].resource_skus.list(filter=f"location eq '{region}'")]
            with self._lock:
                self._sizes[sub, region] = {str(s["name"]): size_info(s) for s in skus
                                            if s.get("resourceType") == "virtualMachines"}
        return self._sizes[sub, region]

    def offered(self, where: str, types: Sequence[str]) -> dict[str, str | None]:
        """The region's resource SKUs (one listing per region, kept)."""
        sizes = self._sizes_in(self.scopes[0], where)
        return {t: None if t in sizes else f"{where} has no size {t}" for t in types}

    def _image(self, spec: CloudProvisionSpec) -> dict[str, str]:
        parts = spec.image.split(":")
        if len(parts) != 4 or not all(parts):
            raise BadInput(f"--image: {spec.image!r} is not PUBLISHER:OFFER:SKU:VERSION (example: "
                           "Canonical:ubuntu-24_04-lts:server:latest)")
        return dict(zip(("publisher", "offer", "sku", "version"), parts, strict=True))

    def _checked(self, spec: CloudProvisionSpec) -> tuple[str, str, SizeInfo]:
        sub = self.scopes[0]
        # the options Azure takes and needs (--group, --subnet, --ssh-key) are checked as the line is
        # parsed, from cockpit.providers.azure's form
        self._image(spec)
        info = self._sizes_in(sub, spec.location).get(spec.machine_type)
        if info is None:
            raise BadInput(f"--type: no size {spec.machine_type!r} in {spec.location} (or no region "
                           f"{spec.location!r})")
        return sub, str(spec.group), info

    def check_cloud_provision(self, spec: CloudProvisionSpec) -> CloudOffer:
        """The size as this region's SKUs know it, and that the names are free; nothing is created."""
        sub, group, info = self._checked(spec)
        existing = taken(spec.names, lambda name: self._get(sub, group, name))
        if existing:
            raise Conflict(f"{self.source}: {', '.join(existing)} already exist in resource group {group}")
        return CloudOffer(spec.machine_type, info.vcpus, info.memory_mib, gpus(spec.machine_type, info.gpus))

    def _vm_body(self, spec: CloudProvisionSpec, name: str, spot: bool) -> dict[str, Any]:
        os_disk: dict[str, Any] = {"createOption": "FromImage", "deleteOption": "Delete",
                                   "managedDisk": {"storageAccountType": "Premium_LRS"}}
        if spec.disk_gib:
            os_disk["diskSizeGB"] = spec.disk_gib
        props: dict[str, Any] = {
            "hardwareProfile": {"vmSize": spec.machine_type},
            "storageProfile": {"imageReference": self._image(spec), "osDisk": os_disk},
            "osProfile": {"computerName": name[:64], "adminUsername": "cockpit", "linuxConfiguration": {
                "disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                    {"path": "/home/cockpit/.ssh/authorized_keys", "keyData": spec.ssh_key}]}}},
            "networkProfile": {"networkApiVersion": "2022-11-01", "networkInterfaceConfigurations": [{
                "name": f"{name}-nic", "properties": {"primary": True, "deleteOption": "Delete", "ipConfigurations": [
                    {"name": "ipconfig1", "properties": {"subnet": {"id": spec.subnet}}}]}}]},
            "priority": "Spot" if spot else "Regular",
        }
        if spot:
            props |= {"evictionPolicy": "Deallocate", "billingProfile": {"maxPrice": spec.max_price or -1}}
        return {"location": spec.location, "tags": dict(spec.tags), "properties": props}

    def provision_cloud(self, spec: CloudProvisionSpec) -> Provisioned:
        """One create per VM, each waited on; spot refused for lack of capacity may fall back."""
        sub, group, _ = self._checked(spec)
        ops = self._clients[sub].virtual_machines

        def create(name: str, spot: bool) -> Machine:
            body = self._vm_body(spec, name, spot)
            self._run(sub, f"create {name}", lambda: ops.begin_create_or_update(group, name, body, polling_interval=0))
            return self._machine(self._get(sub, group, name), name)

        def refused(e: BaseException) -> str | None:
            return next((c for c in ALLOCATION_FAILED if c in getattr(e, "message", "")), None)

        return one_by_one(spec, spec.location, create, refused)

    # -- prices ------------------------------------------------------------------------------
    def price_offers(self, wanted: list[tuple[str, str]], known: Mapping[tuple[str, str], Offer]) -> list[Offer]:
        """Pay-as-you-go and spot $/hour of (size, region) pairs from the public retail prices API."""
        requests = require("requests", "azure")
        from backends.azure.prices import fetch

        def transient(e: BaseException) -> float | None:
            if isinstance(e, requests.HTTPError) and e.response is not None and (
                    e.response.status_code == 429 or e.response.status_code >= 500):
                return float(e.response.headers.get("Retry-After") or 0)
            return None

        def get(url: str, params: dict[str, str] | None) -> Any:
            def once() -> Any:
                r = requests.get(url, params=params, timeout=(5, 30), verify=self._verify)
                r.raise_for_status()
                return r.json()
            return with_retries(once, transient, self._attempts)

        try:
            return fetch(get, self._prices_url, wanted, known)
        except requests.HTTPError as e:
            status = e.response.status_code if e.response is not None else "?"
            raise BackendError(f"{self.source}: retail prices API: HTTP {status} from {self._prices_url}") from None
        except requests.ConnectionError:
            raise BackendUnavailable(f"{self.source}: cannot reach the retail prices API at "
                                     f"{self._prices_url}") from None
        except requests.Timeout:
            raise BackendTimeout(f"{self.source}: the retail prices API did not answer in time") from None
        except (ValueError, KeyError, TypeError) as e:
            raise BackendError(f"{self.source}: retail prices API: an answer not in its shape ({e})") from None

    # -- spend -------------------------------------------------------------------------------
    def spend(self, start: date, end: date) -> Spend:
        """What each subscription was charged per day and service over [start, end), from Cost
        Management; a subscription that fails is named in `missing`, the others still count."""
        from backends.azure.spend import definition, lines_of

        costs = require("azure.mgmt.costmanagement", "azure")
        rest = require("azure.core.rest", "azure")
        body = definition(start, end)

        def one(sub: str) -> tuple[list[SpendLine], str | None] | CockpitError:
            client = costs.CostManagementClient(self._credential, **self._client_kw)
            try:
                with self._errors(sub, "read Cost Management (Microsoft.CostManagement/query/read)"):
                    got = client.query.usage(f"/subscriptions/{sub}", body)
                    columns, rows = [c.name for c in got.columns or []], list(got.rows or [])
                    link = got.next_link
                    while link:  # further pages: the same definition, posted to nextLink
                        page = client.send_request(rest.HttpRequest("POST", link, json=body))
                        page.raise_for_status()
                        props = page.json().get("properties") or {}
                        rows += props.get("rows") or []
                        link = props.get("nextLink")
                try:
                    return lines_of(columns, rows)
                except ValueError as e:
                    return BackendError(f"{self.source}: {sub}: Cost Management: an answer not in its shape ({e})")
            except CockpitError as e:
                return e
            finally:
                client.close()

        results = dict(zip(self.scopes, fan_out(one, self.scopes, workers=8, name=self.source), strict=True))
        failed = {s: r for s, r in results.items() if isinstance(r, CockpitError)}
        if len(failed) == len(self.scopes):
            raise next(iter(failed.values()))
        lines = [line for r in results.values() if not isinstance(r, CockpitError) for line in r[0]]
        currency = next((r[1] for r in results.values() if not isinstance(r, CockpitError) and r[1]), "USD")
        return Spend(self.source, "azure", "Azure Cost Management", f"{len(self.scopes)} subscription(s)", start, end,
                     currency, tuple(lines),
                     tuple((s, e.message.removeprefix(f"{self.source}: ").removeprefix(f"{s}: "))
                           for s, e in failed.items()))

    def close(self) -> None:
        super().close()
        for client in self._clients.values():
            client.close()


if TYPE_CHECKING:  # the roles cockpit.providers gives "azure": mypy checks the class against each role's Protocol
    from cockpit.contracts import CloudProvisioning, MachineBackend, PriceBackend, SpendBackend

    _machines: type[MachineBackend] = AzureBackend
    _provisioning: type[CloudProvisioning] = AzureBackend
    _spend: type[SpendBackend] = AzureBackend
    _prices: type[PriceBackend] = AzureBackend
