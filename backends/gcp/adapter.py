"""Compute Engine through google-cloud-compute: instances of every configured project in one
list (one aggregated list per project, page by page), lifecycle actions and deletion, each waited
on with our own zone-operations wait.

Why not the client's own machinery: its `.result()` polls the operation through a host built from
Google's defaults, which ignores a custom endpoint, and its default retry on reads may go on for
minutes. So every call passes `retry=None` and a timeout, throttling and 5xx are retried here with
bounded attempts, and an operation is polled through ZoneOperationsClient until DONE or a deadline.
Credentials: Application Default Credentials, or anonymous against a custom endpoint (the demo).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from backends._lazy import require
from backends.cloud import CloudBackend, Listed, as_json, first_line, one_by_one, taken, with_retries
from backends.gcp.prices import DEFAULT_ENDPOINT, SERVICE, Shape, offers, rates_of, shape_of
from backends.gcp.translate import ACCELERATORS, TypeInfo, custom_type, gpus, last, machine, type_info
from cockpit.contracts import (
    BackendError,
    BackendFault,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    Unsupported,
)
from cockpit.model import CloudOffer, CloudProvisionSpec, Machine, Provisioned
from cockpit.prices import Offer

T = TypeVar("T")
CALL_TIMEOUT = 30.0
ACTIONS = {"start": "start", "resume": "resume", "stop": "stop", "reboot": "reset", "suspend": "suspend"}
"""No force-off: Compute Engine's stop always lets the guest shut down (see cockpit.providers.gcp)."""


STOCKOUT = {"ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "QUOTA_EXCEEDED"}
"""What an insert's operation ends with when the zone has no (spot) capacity: --fallback applies."""
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")


class OperationFailed(BackendError):
    """A zonal operation that ended with an error; `code` is Compute Engine's (ZONE_RESOURCE_POOL_EXHAUSTED)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class GcpBackend(CloudBackend):
    kind = "gcp"
    scope_word = "project"
    scope_hint = "ZONE"

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        self._cv = require("google.cloud.compute_v1", "gcp")
        self._exc = require("google.api_core.exceptions", "gcp")
        self._requests = require("requests", "gcp")
        options = require("google.api_core.client_options", "gcp").ClientOptions
        endpoint = settings.get("endpoint")
        if settings.get("anonymous"):
            if not endpoint:
                raise BadInput(f"{source}: anonymous = true needs an endpoint (it is for local fakes only)")
            credentials, project = require("google.auth.credentials", "gcp").AnonymousCredentials(), None
        else:
            auth = require("google.auth", "gcp")
            try:
                credentials, project = auth.default(scopes=["https://www.googleapis.com/auth/compute",
                                                            "https://www.googleapis.com/auth/cloud-billing.readonly"])
            except auth.exceptions.DefaultCredentialsError:
                raise BackendUnavailable(f"{source}: no Application Default Credentials: run gcloud auth "
                                         "application-default login, or set GOOGLE_APPLICATION_CREDENTIALS") from None
        projects = list(settings.get("projects") or ([project] if project else []))
        if not projects:
            raise BadInput(f"{source}: no project: set projects = [\"my-project\", ...] for the source")
        super().__init__(source, projects)
        self.zones = frozenset(settings.get("zones") or ())
        """Only these zones, when set (the aggregated list answers for every zone of a project)."""
        self._attempts = int(settings.get("max_attempts") or 5)
        self._op_timeout = float(settings.get("operation_timeout_seconds") or 600)
        kw: dict[str, Any] = {"credentials": credentials}
        if endpoint:
            kw["client_options"] = options(api_endpoint=str(endpoint))
        self._instances = self._cv.InstancesClient(**kw)
        self._types_client = self._cv.MachineTypesClient(**kw)
        self._operations = self._cv.ZoneOperationsClient(**kw)
        self._zones_client = self._cv.ZonesClient(**kw)
        self._where = str(endpoint or "compute.googleapis.com")
        self._credentials = credentials
        self._prices_endpoint = str(settings.get("prices_endpoint") or DEFAULT_ENDPOINT)
        self._types: dict[tuple[str, str, str], TypeInfo] = {}
        self._lock = threading.Lock()

    # -- calls and errors --------------------------------------------------------------------
    def _transient(self, e: BaseException) -> float | None:
        exc = self._exc
        if isinstance(e, exc.TooManyRequests | exc.ServiceUnavailable | exc.InternalServerError | exc.BadGateway
                      | exc.GatewayTimeout):
            after = getattr(getattr(e, "response", None), "headers", {}).get("Retry-After")
            try:
                return min(float(after), 30.0) if after else 0.0
            except ValueError:
                return 0.0
        return None

    def _call(self, scope: str, what: str, method: Callable[..., T], service: str = "Compute Engine",
              **kw: Any) -> T:
        """One client method with our retries, no client retry, and a timeout per attempt."""
        with self._errors(scope, what, service):
            return with_retries(lambda: method(**kw, retry=None, timeout=CALL_TIMEOUT), self._transient,
                                self._attempts)

    @contextmanager
    def _errors(self, scope: str, what: str, service: str = "Compute Engine") -> Iterator[None]:
        exc, rq = self._exc, self._requests.exceptions
        try:
            yield
        except (exc.Forbidden, exc.Unauthorized, exc.PermissionDenied) as e:
            raise Forbidden(f"{self.source}: {scope}: not allowed to {what} ({first_line(e.message)})") from None
        except exc.NotFound as e:
            raise NotFound(f"{self.source}: {scope}: {first_line(e.message)}") from None
        except exc.Conflict as e:
            raise Conflict(f"{self.source}: cannot {what}: {first_line(e.message)}") from None
        except exc.BadRequest as e:
            raise BackendError(f"{self.source}: {scope}: {what}: {first_line(e.message)}") from None
        except exc.GoogleAPICallError as e:  # after the retries: a 5xx or throttling that kept coming
            error = BackendFault if (e.code or 0) >= 500 or e.code == 429 else BackendError
            raise error(f"{self.source}: {scope}: {what}: HTTP {e.code}: {first_line(e.message)}") from None
        except rq.ConnectionError:
            where = self._where if service == "Compute Engine" else self._prices_endpoint
            raise BackendUnavailable(f"{self.source}: cannot reach {service} at {where}") from None
        except rq.Timeout:
            raise BackendTimeout(f"{self.source}: {scope}: {service} did not answer {what} in time") from None

    # -- reads -------------------------------------------------------------------------------
    def ping(self) -> None:
        project = self.scopes[0]
        self._call(project, "list zones", self._zones_client.list,
                   request=self._cv.ListZonesRequest(project=project, max_results=1))

    def _list(self, project: str) -> list[Listed]:
        out: list[Listed] = []
        token = ""
        while True:
            request = self._cv.AggregatedListInstancesRequest(project=project, max_results=500, page_token=token)
            pager = self._call(project, "list instances", self._instances.aggregated_list, request=request)
            page = next(iter(pager.pages))  # the answer already fetched: paging stays under our retries
            for scope, scoped in page.items.items():
                zone = last(scope)
                if self.zones and zone not in self.zones:
                    continue
                out += [self._listed(project, zone, self._json(i)) for i in scoped.instances]
            token = page.next_page_token
            if not token:
                break
        self._type_infos(project, {(i.where["zone"], last(i.raw.get("machineType"))) for i in out})
        return out

    def _json(self, message: Any) -> dict[str, Any]:
        return dict(type(message).to_dict(message, preserving_proto_field_name=False,
                                          always_print_fields_with_no_presence=False))

    def _listed(self, project: str, zone: str, raw: dict[str, Any]) -> Listed:
        name = str(raw.get("name"))
        fallback = f"{name}.{zone}" if len(self.scopes) == 1 else f"{name}.{zone}.{project}"
        return Listed(project, str(raw.get("id") or name), name, fallback, raw, {"zone": zone, "name": name})

    def _type_infos(self, project: str, wanted: set[tuple[str, str]]) -> None:
        for zone, kind in sorted(wanted):
            if (project, zone, kind) in self._types or custom_type(kind):
                continue
            got = self._call(project, f"get machine type {kind}", self._types_client.get, project=project,
                             zone=zone, machine_type=kind)
            with self._lock:
                self._types[project, zone, kind] = type_info(self._json(got))

    def _machine(self, item: Listed, name: str) -> Machine:
        kind = last(item.raw.get("machineType"))
        info = self._types.get((item.scope, item.where["zone"], kind)) or custom_type(kind)
        return machine(self.source, item.raw, info, name)

    # -- changes -----------------------------------------------------------------------------
    def _wait(self, project: str, zone: str, op: Any, what: str) -> None:
        """Poll a zonal operation until DONE; its error, if any, becomes ours."""
        done = self._cv.Operation.Status.DONE
        deadline = time.monotonic() + self._op_timeout
        while op.status != done:
            if time.monotonic() > deadline:
                raise BackendTimeout(f"{self.source}: {what} still running after {self._op_timeout:g}s (operation "
                                     f"{op.name} in {zone}); it may yet finish")
            op = self._call(project, f"wait for {what}", self._operations.wait, project=project, zone=zone,
                            operation=op.name)
        errors = list(op.error.errors) if op.error else []
        if errors:
            first = errors[0]
            raise OperationFailed(f"{self.source}: {what}: {first.code}: {first_line(first.message)}", str(first.code))

    def _get(self, project: str, zone: str, name: str) -> Listed:
        got = self._call(project, f"get {name}", self._instances.get, project=project, zone=zone, instance=name)
        return self._listed(project, zone, self._json(got))

    def act(self, name: str, action: str) -> Machine:
        item, shown = self._find(name)
        verb = ACTIONS.get(action)
        if verb is None:
            raise Unsupported(f"{self.source}: Compute Engine has no {action!r}")
        project, zone, instance = item.scope, item.where["zone"], item.where["name"]
        op = self._call(project, f"{verb} {instance}", getattr(self._instances, f"{verb}_unary"), project=project,
                        zone=zone, instance=instance)
        self._wait(project, zone, op, f"{verb} {instance}")
        return self._machine(self._get(project, zone, instance), shown)

    def destroy(self, name: str, remove_storage: bool) -> str:
        """Delete; returns the instance as it was, for the audit log. Disks marked auto-delete go
        with it, whatever `remove_storage` says: Compute Engine decides per disk."""
        item, _ = self._find(name)
        project, zone, instance = item.scope, item.where["zone"], item.where["name"]
        op = self._call(project, f"delete {instance}", self._instances.delete_unary, project=project, zone=zone,
                        instance=instance)
        self._wait(project, zone, op, f"delete {instance}")
        return as_json(item.raw)

    # -- provisioning ------------------------------------------------------------------------
    def _target(self, spec: CloudProvisionSpec) -> tuple[str, str]:
        """(project, zone): the zone is the location; --group names another configured project."""
        project = spec.group or self.scopes[0]
        if project not in self.scopes:
            raise BadInput(f"--group: project {project!r} is not one of the source's ({', '.join(self.scopes)})")
        if self.zones and spec.location not in self.zones:
            raise BadInput(f"{self.source}: zone {spec.location!r} is not one of the source's zones")
        bad = [n for n in spec.names if not _NAME.match(n)]
        if bad:
            raise BadInput(f"--name: {bad[0]!r} is not a Compute Engine name (lowercase letters, digits and '-', "
                           "starting with a letter)")
        for k, v in spec.tags:
            if not _LABEL.match(k) or (v and not _LABEL.match(v) and not re.match(r"^[-_a-z0-9]{1,63}$", v)):
                raise BadInput(f"--tag: {k}={v} is not a Compute Engine label (lowercase letters, digits, '-', '_')")
        if spec.accelerators and not spec.machine_type.startswith("n1-"):
            raise BadInput("--accelerator: GPUs attach to N1 sizes only (A2, A3 and G2 sizes come with theirs)")
        return project, spec.location

    def _size(self, project: str, zone: str, kind: str) -> TypeInfo:
        """A size's figures in a zone (a custom size names its own), or a one-line BadInput."""
        try:
            self._type_infos(project, {(zone, kind)})
        except NotFound:
            raise BadInput(f"--type: no machine type {kind!r} in {zone} (or no zone {zone!r})") from None
        info = self._types.get((project, zone, kind)) or custom_type(kind)
        assert info is not None  # _type_infos stored it, or it is a custom size
        return info

    def offered(self, where: str, types: Sequence[str]) -> dict[str, str | None]:
        """Each machine type in the zone (a get per type, kept); a GPU the catalogue keys as
        `gpu:MODEL:COUNT` attaches to an N1 size and is not checked here."""
        project = self.scopes[0]
        out: dict[str, str | None] = {}
        for t in types:
            try:
                if not t.startswith("gpu:"):
                    self._size(project, where, t)
                out[t] = None
            except BadInput:
                out[t] = f"{where} has no machine type {t}"
        return out

    def check_cloud_provision(self, spec: CloudProvisionSpec) -> CloudOffer:
        """The size as this zone knows it, and that the names are free; nothing is created."""
        project, zone = self._target(spec)
        info = self._size(project, zone, spec.machine_type)
        existing = taken(spec.names, lambda name: self._get(project, zone, name))
        if existing:
            raise Conflict(f"{self.source}: {', '.join(existing)} already exist in {zone}")
        return CloudOffer(spec.machine_type, info.vcpus, info.memory_mib, gpus(spec.accelerators or info.accelerators))

    def _instance_body(self, spec: CloudProvisionSpec, info: TypeInfo, zone: str, name: str, spot: bool) -> Any:
        """The Instance to insert. GPUs cannot live-migrate: an instance with any terminates on host
        maintenance (Compute Engine refuses the insert otherwise); spot stops when taken back."""
        cv = self._cv
        if spot:
            scheduling = cv.Scheduling(on_host_maintenance="TERMINATE", automatic_restart=False,
                                       provisioning_model="SPOT", instance_termination_action="STOP")
        else:
            gpus_on = bool(spec.accelerators or info.accelerators)
            scheduling = cv.Scheduling(on_host_maintenance="TERMINATE" if gpus_on else "MIGRATE",
                                       automatic_restart=True)
        params = cv.AttachedDiskInitializeParams(source_image=spec.image)
        if spec.disk_gib:
            params.disk_size_gb = spec.disk_gib
        return cv.Instance(
            name=name, machine_type=f"zones/{zone}/machineTypes/{spec.machine_type}", labels=dict(spec.tags),
            disks=[cv.AttachedDisk(boot=True, auto_delete=True, initialize_params=params)],
            network_interfaces=[cv.NetworkInterface(network="global/networks/default", access_configs=[
                cv.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")])],
            guest_accelerators=[cv.AcceleratorConfig(accelerator_type=f"zones/{zone}/acceleratorTypes/{kind}",
                                                     accelerator_count=n) for kind, n in spec.accelerators],
            scheduling=scheduling)

    def provision_cloud(self, spec: CloudProvisionSpec) -> Provisioned:
        """One insert per instance, each waited on; a spot stockout may fall back to standard."""
        project, zone = self._target(spec)
        info = self._size(project, zone, spec.machine_type)

        def insert(name: str, spot: bool) -> Machine:
            op = self._call(project, f"insert {name}", self._instances.insert_unary, project=project, zone=zone,
                            instance_resource=self._instance_body(spec, info, zone, name, spot))
            self._wait(project, zone, op, f"insert {name}")
            return self._machine(self._get(project, zone, name), name)

        def refused(e: BaseException) -> str | None:
            return e.code if isinstance(e, OperationFailed) and e.code in STOCKOUT else None

        return one_by_one(spec, zone, insert, refused)

    # -- prices ------------------------------------------------------------------------------
    def price_offers(self, wanted: list[tuple[str, str]], known: Mapping[tuple[str, str], Offer]) -> list[Offer]:
        """On-demand and spot $/hour of (type, region) pairs, composed from the Cloud Billing
        Catalog's per-family core, RAM and GPU SKUs (backends.gcp.prices says why)."""
        billing = require("google.cloud.billing_v1", "gcp")
        options = require("google.api_core.client_options", "gcp").ClientOptions
        client = billing.CloudCatalogClient(credentials=self._credentials, transport="rest",
                                            client_options=options(api_endpoint=self._prices_endpoint))
        skus: list[dict[str, Any]] = []
        token = ""
        try:
            while True:
                request = billing.ListSkusRequest(parent=SERVICE, currency_code="USD", page_size=5000,
                                                  page_token=token)
                pager = self._call("billing", "list Compute Engine's SKUs", client.list_skus,
                                   "Cloud Billing Catalog API", request=request)
                page = next(iter(pager.pages))  # one page per call: paging stays under our retries
                skus += [self._json(s) for s in page.skus]
                token = page.next_page_token
                if not token:
                    break
        finally:
            client.transport.close()
        shapes: dict[tuple[str, str], Shape] = {}
        names: dict[tuple[str, str], str | None] = {}
        for (_, zone, kind), info in sorted(self._types.items()):  # types the source runs, as listed
            gpu, count = info.accelerators[0] if info.accelerators else (None, 0)
            shapes[kind, zone.rsplit("-", 1)[0]] = Shape(info.vcpus, info.memory_mib / 1024, gpu, count)
            names[kind, zone.rsplit("-", 1)[0]] = ACCELERATORS.get(gpu or "", (None, 0))[0]
        for key, offer in known.items():
            shape = shape_of(offer)
            if shape is not None:
                shapes[key], names[key] = shape, offer.accelerator
        return offers(rates_of(skus), wanted, shapes, names)


    def close(self) -> None:
        super().close()
        for client in (self._instances, self._types_client, self._operations, self._zones_client):
            client.transport.close()


if TYPE_CHECKING:  # the roles cockpit.providers gives "gcp": mypy checks the class against each role's Protocol
    from cockpit.contracts import CloudProvisioning, MachineBackend, PriceBackend

    _machines: type[MachineBackend] = GcpBackend
    _provisioning: type[CloudProvisioning] = GcpBackend
    _prices: type[PriceBackend] = GcpBackend
