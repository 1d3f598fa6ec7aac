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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from backends._lazy import require
from backends.azure.translate import SizeInfo, machine, size_info, where
from backends.cloud import CloudBackend, Listed, as_json, first_line
from cockpit.contracts import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    Unsupported,
)
from cockpit.model import Machine, ProvisionSpec

# cockpit action -> (operation, its keyword arguments, the verb an error names)
ACTIONS: Mapping[str, tuple[str, Mapping[str, Any], str]] = {
    "start": ("begin_start", {}, "start"), "resume": ("begin_start", {}, "start"),
    # Stop releases the compute (and its bill), as the portal's Stop does; force-off keeps it allocated
    "stop": ("begin_deallocate", {}, "deallocate"),
    "force-off": ("begin_power_off", {"skip_shutdown": True}, "power off"),
    "reboot": ("begin_restart", {}, "restart"),
    "suspend": ("begin_deallocate", {"hibernate": True}, "hibernate"),
}


class _StaticToken:
    """A credential holding one access token, for `token_env`: the SDK asks it for a token per call."""

    def __init__(self, token: str) -> None:
        self._token = require("azure.core.credentials", "azure").AccessToken(token, int(time.time()) + 3600)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token


class AzureBackend(CloudBackend):
    kind = "azure"
    capabilities = frozenset({"machines", "actions", "destroy"})
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
        self._clients = {s: compute.ComputeManagementClient(credential, s, **kw) for s in subscriptions}
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
            raise BackendError(f"{self.source}: {sub}: {what}: {code}: {first_line(e.message)}") from None
        except exc.ServiceRequestError:
            raise BackendUnavailable(f"{self.source}: cannot reach Azure Resource Manager at {self._where}") from None
        except exc.ServiceResponseError:
            raise BackendTimeout(f"{self.source}: {sub}: Azure did not answer {what} in time") from None

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
        for region in sorted({str(i.raw.get("location")) for i in out} - {k[1] for k in self._sizes if k[0] == sub}):
            with self._errors(sub, f"list sizes in {region}"):
                skus = [s.as_dict() for s in self._clients[sub].resource_skus.list(filter=f"location eq '{region}'")]
            with self._lock:
                self._sizes[sub, region] = {str(s["name"]): size_info(s) for s in skus
                                            if s.get("resourceType") == "virtualMachines"}
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

    # -- provisioning ----------------------------------------------------------------------
    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        raise Unsupported(f"{self.source}: provisioning Azure VMs is not in this build yet")

    def provision(self, spec: ProvisionSpec) -> Machine:
        raise Unsupported(f"{self.source}: provisioning Azure VMs is not in this build yet")

    def close(self) -> None:
        super().close()
        for client in self._clients.values():
            client.close()

