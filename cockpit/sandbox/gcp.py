"""A local fake of the Compute Engine REST API (v1), for the demo and the tests: what
google-cloud-compute's InstancesClient, MachineTypesClient, ZonesClient and ZoneOperationsClient
ask of it, in the public JSON shapes (camelCase, selfLinks, zonal operations that finish when they
are polled, errors as `{"error": {"code", "message", "errors": [{"reason"}]}}`).

The real client talks to it with AnonymousCredentials and `api_endpoint=http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.config import SourceConfig
from cockpit.sandbox.cloudfake import HttpError, JsonFake, Obj, Reply
from cockpit.sandbox.gcp_prices import serve_skus, skus
from cockpit.sandbox.lazy import LazyService

API = "https://www.googleapis.com/compute/v1"
P = r"/compute/v1/projects/([^/]+)"
Z = P + r"/zones/([^/]+)"


@dataclass(frozen=True)
class MachineType:
    guest_cpus: int
    memory_mb: int
    accelerator: str | None = None
    accelerators: int = 0


# public figures of the sizes the demo and tests use (cloud.google.com/compute/docs/gpus)
MACHINE_TYPES: dict[str, MachineType] = {
    "a3-highgpu-8g": MachineType(208, 1916928, "nvidia-h100-80gb", 8),
    "a2-highgpu-1g": MachineType(12, 87040, "nvidia-tesla-a100", 1),
    "a2-highgpu-8g": MachineType(96, 696320, "nvidia-tesla-a100", 8),
    "a2-ultragpu-1g": MachineType(12, 174080, "nvidia-a100-80gb", 1),
    "g2-standard-4": MachineType(4, 16384, "nvidia-l4", 1),
    "g2-standard-24": MachineType(24, 98304, "nvidia-l4", 2),
    "n1-standard-8": MachineType(8, 30720),
    "n2-standard-8": MachineType(8, 32768),
    "e2-standard-4": MachineType(4, 16384),
}
ATTACHABLE = {"nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p4"}  # to N1 sizes only
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_ids = itertools.count(4_100_000_000_000_000_000)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _last(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def _error(status: int, reason: str, message: str) -> HttpError:
    return HttpError(status, {"error": {"code": status, "message": message,
                                        "errors": [{"message": message, "domain": "global", "reason": reason}]}})


class GceFake(JsonFake):
    """Projects -> zones -> instances; `stocked_out` zones refuse spot capacity, as a real zone
    does now and then (the operation ends with ZONE_RESOURCE_POOL_EXHAUSTED)."""

    def __init__(self, zones: dict[str, list[str]]) -> None:
        super().__init__()
        self.zones = zones
        """project -> its zones."""
        self.instances: dict[tuple[str, str, str], Obj] = {}
        self.operations: dict[str, tuple[Obj, Any]] = {}
        self.page_size = 500
        """At most this many instances per page, whatever maxResults asks (to exercise paging)."""
        self.stocked_out: set[str] = set()
        self.denied: set[str] = set()
        """Projects whose every request answers 403, as a project without the compute API enabled."""
        self.route("GET", P + r"/aggregated/instances", self._aggregated)
        self.route("GET", P + r"/zones", self._zones)
        self.route("GET", Z + r"/machineTypes/([^/]+)", self._machine_type)
        self.route("GET", Z + r"/instances/([^/]+)", self._get)
        self.route("POST", Z + r"/instances", self._insert)
        self.route("DELETE", Z + r"/instances/([^/]+)", self._delete)
        self.route("POST", Z + r"/instances/([^/]+)/(start|stop|reset|suspend|resume)", self._act)
        self.route("POST", Z + r"/operations/([^/]+)/wait", self._poll)
        self.route("GET", Z + r"/operations/([^/]+)", self._poll)
        self.skus = skus()
        """The Cloud Billing Catalog's Compute Engine SKUs, served at the same address."""
        serve_skus(self, self.skus)

    def error_body(self, status: int, message: str) -> Obj:
        reason = {429: "rateLimitExceeded", 403: "forbidden", 404: "notFound"}.get(status, "backendError")
        return {"error": {"code": status, "message": message,
                          "errors": [{"message": message, "domain": "global", "reason": reason}]}}

    # -- seeding -----------------------------------------------------------------------------
    def add(self, project: str, zone: str, name: str, machine_type: str, *, running: bool = True, spot: bool = False,
            labels: dict[str, str] | None = None, accelerators: tuple[str, int] | None = None,
            started: datetime | None = None) -> Obj:
        """An instance as if it had been inserted (at `started`, default now), and left stopped
        when `running` is False."""
        body: Obj = {"name": name, "machineType": f"zones/{zone}/machineTypes/{machine_type}",
                     "labels": labels or {}, "disks": [{"boot": True, "initializeParams": {
                         "sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
                     "scheduling": {"provisioningModel": "SPOT", "instanceTerminationAction": "STOP"} if spot else {}}
        if accelerators:
            body["guestAccelerators"] = [{"acceleratorType": f"zones/{zone}/acceleratorTypes/{accelerators[0]}",
                                          "acceleratorCount": accelerators[1]}]
        if accelerators or MACHINE_TYPES[machine_type].accelerator:
            body["scheduling"]["onHostMaintenance"] = "TERMINATE"
        inst = self._new_instance(project, zone, body)
        inst["status"] = "RUNNING" if running else "TERMINATED"
        if started is not None:
            inst["creationTimestamp"] = started.isoformat(timespec="milliseconds")
        inst["lastStartTimestamp"] = inst["creationTimestamp"]
        self.instances[project, zone, name] = inst
        return inst

    # -- reads -------------------------------------------------------------------------------
    def _project(self, project: str) -> list[str]:
        if project in self.denied:
            raise _error(403, "forbidden", f"Required 'compute.instances.list' permission for 'projects/{project}'")
        if project not in self.zones:
            raise _error(404, "notFound", f"The resource 'projects/{project}' was not found")
        return self.zones[project]

    def _zone(self, project: str, zone: str) -> None:
        if zone not in self._project(project):
            raise _error(404, "notFound", f"The resource 'projects/{project}/zones/{zone}' was not found")

    def _aggregated(self, project: str, query: dict[str, str], **_: Any) -> Reply:
        items: list[tuple[str, Obj]] = [(z, i) for (p, z, _n), i in sorted(self.instances.items()) if p == project]
        self._project(project)
        start = int(query.get("pageToken") or 0)
        size = min(int(query.get("maxResults") or 500), self.page_size)
        page = items[start:start + size]
        scopes: dict[str, Obj] = {f"zones/{z}": {"warning": {
            "code": "NO_RESULTS_ON_PAGE", "message": f"There are no results for scope 'zones/{z}' on this page."}}
            for z in self.zones[project]}
        for zone, inst in page:
            scopes[f"zones/{zone}"].pop("warning", None)
            scopes[f"zones/{zone}"].setdefault("instances", []).append(inst)
        out: Obj = {"kind": "compute#instanceAggregatedList", "id": f"projects/{project}/aggregated/instances",
                    "items": scopes, "selfLink": f"{API}/projects/{project}/aggregated/instances"}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return 200, out

    def _zones(self, project: str, **_: Any) -> Reply:
        return 200, {"kind": "compute#zoneList", "items": [
            {"kind": "compute#zone", "name": z, "status": "UP", "region": f"{API}/projects/{project}/regions/"
             f"{z.rsplit('-', 1)[0]}"} for z in self._project(project)]}

    def _machine_type(self, project: str, zone: str, name: str, **_: Any) -> Reply:
        self._zone(project, zone)
        t = MACHINE_TYPES.get(name)
        if t is None:
            raise _error(404, "notFound", f"The resource 'projects/{project}/zones/{zone}/machineTypes/{name}' was "
                         "not found")
        out: Obj = {"kind": "compute#machineType", "name": name, "guestCpus": t.guest_cpus, "memoryMb": t.memory_mb,
                    "zone": zone, "selfLink": f"{API}/projects/{project}/zones/{zone}/machineTypes/{name}"}
        if t.accelerator:
            out["accelerators"] = [{"guestAcceleratorType": t.accelerator, "guestAcceleratorCount": t.accelerators}]
        return 200, out

    def _instance(self, project: str, zone: str, name: str) -> Obj:
        self._zone(project, zone)
        inst = self.instances.get((project, zone, name))
        if inst is None:
            raise _error(404, "notFound", f"The resource 'projects/{project}/zones/{zone}/instances/{name}' was "
                         "not found")
        return inst

    def _get(self, project: str, zone: str, name: str, **_: Any) -> Reply:
        return 200, self._instance(project, zone, name)

    # -- changes -----------------------------------------------------------------------------
    def _new_instance(self, project: str, zone: str, body: Obj) -> Obj:
        name = str(body.get("name") or "")
        if not _NAME.match(name):
            raise _error(400, "invalid", f"Invalid value for field 'resource.name': '{name}'. Must be a match of "
                         "regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
        if (project, zone, name) in self.instances:
            raise _error(409, "alreadyExists", f"The resource 'projects/{project}/zones/{zone}/instances/{name}' "
                         "already exists")
        kind = _last(str(body.get("machineType") or ""))
        t = MACHINE_TYPES.get(kind)
        if t is None:
            raise _error(400, "invalid", f"Invalid value for field 'resource.machineType': "
                         f"'{body.get('machineType')}'. Machine type with name '{kind}' does not exist in zone "
                         f"'{zone}'.")
        if not any((d.get("initializeParams") or {}).get("sourceImage") or d.get("source")
                   for d in body.get("disks") or []):
            raise _error(400, "required", "Invalid value for field 'resource.disks': ''. Boot disk must be specified.")
        extra = [a for a in body.get("guestAccelerators") or []]
        for a in extra:
            if _last(str(a.get("acceleratorType"))) not in ATTACHABLE or not kind.startswith("n1-"):
                raise _error(400, "invalid", f"Accelerator type '{_last(str(a.get('acceleratorType')))}' cannot be "
                             f"attached to machine type '{kind}'.")
        scheduling = dict(body.get("scheduling") or {})
        if (extra or t.accelerator) and scheduling.get("onHostMaintenance", "MIGRATE") == "MIGRATE":
            raise _error(400, "invalid", "Instances with guest accelerators do not support live migration.")
        accelerators = extra or ([{"acceleratorType": f"zones/{zone}/acceleratorTypes/{t.accelerator}",
                                   "acceleratorCount": t.accelerators}] if t.accelerator else [])
        iid = str(next(_ids))
        boot: Obj = next((d for d in body.get("disks") or [] if d.get("boot")), {})
        size = str((boot.get("initializeParams") or {}).get("diskSizeGb") or 10)  # int64 as JSON: a string
        return {
            "kind": "compute#instance", "id": iid, "creationTimestamp": _now(), "name": name,
            "machineType": f"{API}/projects/{project}/zones/{zone}/machineTypes/{kind}", "status": "PROVISIONING",
            "zone": f"{API}/projects/{project}/zones/{zone}", "labels": dict(body.get("labels") or {}),
            "guestAccelerators": [{"acceleratorType": f"{API}/projects/{project}/zones/{zone}/acceleratorTypes/"
                                   f"{_last(str(a['acceleratorType']))}", "acceleratorCount": int(a.get(
                                       "acceleratorCount") or 1)} for a in accelerators],
            "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True, "preemptible": False,
                           "provisioningModel": "STANDARD"} | scheduling,
            "networkInterfaces": [{"name": "nic0", "network": f"{API}/projects/{project}/global/networks/default",
                                   "networkIP": f"10.128.0.{len(self.instances) + 2}",
                                   "accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT",
                                                      "natIP": f"34.72.0.{len(self.instances) + 2}"}]}],
            "disks": [{"boot": True, "deviceName": name, "type": "PERSISTENT", "autoDelete": True, "diskSizeGb": size,
                       "source": f"{API}/projects/{project}/zones/{zone}/disks/{name}"}],
            "selfLink": f"{API}/projects/{project}/zones/{zone}/instances/{name}",
        }

    def _operation(self, project: str, zone: str, kind: str, name: str, target_id: str, effect: Any) -> Reply:
        op_name = f"operation-{next(_ids)}"
        op: Obj = {"kind": "compute#operation", "id": str(next(_ids)), "name": op_name, "operationType": kind,
                   "zone": f"{API}/projects/{project}/zones/{zone}", "status": "RUNNING", "progress": 0,
                   "targetLink": f"{API}/projects/{project}/zones/{zone}/instances/{name}", "targetId": target_id,
                   "user": "cockpit-demo@example.iam.gserviceaccount.com", "insertTime": _now(), "startTime": _now(),
                   "selfLink": f"{API}/projects/{project}/zones/{zone}/operations/{op_name}"}
        self.operations[op_name] = (op, effect)
        return 200, op

    def _poll(self, project: str, zone: str, op_name: str, **_: Any) -> Reply:
        self._zone(project, zone)
        if op_name not in self.operations:
            raise _error(404, "notFound", f"The resource 'projects/{project}/zones/{zone}/operations/{op_name}' was "
                         "not found")
        op, effect = self.operations[op_name]
        if op["status"] != "DONE":
            errors = effect() if effect else None
            op.update(status="DONE", progress=100, endTime=_now())
            if errors:
                op["error"] = {"errors": errors}
                op["httpErrorStatusCode"], op["httpErrorMessage"] = 503, "SERVICE UNAVAILABLE"
        return 200, op

    def _insert(self, project: str, zone: str, body: Any, **_: Any) -> Reply:
        self._zone(project, zone)
        inst = self._new_instance(project, zone, body or {})
        spot = inst["scheduling"].get("provisioningModel") == "SPOT"

        def effect() -> list[Obj] | None:
            if spot and zone in self.stocked_out:
                return [{"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": f"The zone 'projects/{project}/zones/"
                         f"{zone}' does not have enough resources available to fulfill the request. Try a different "
                         "zone, or try again later."}]
            inst.update(status="RUNNING", lastStartTimestamp=_now())
            self.instances[project, zone, inst["name"]] = inst
            return None

        return self._operation(project, zone, "insert", inst["name"], inst["id"], effect)

    def _delete(self, project: str, zone: str, name: str, **_: Any) -> Reply:
        inst = self._instance(project, zone, name)
        inst["status"] = "STOPPING"
        return self._operation(project, zone, "delete", name, inst["id"],
                               lambda: self.instances.pop((project, zone, name), None) and None)

    def _act(self, project: str, zone: str, name: str, verb: str, **_: Any) -> Reply:
        inst = self._instance(project, zone, name)
        if verb == "suspend" and inst["status"] != "RUNNING":
            raise _error(400, "resourceNotReady", f"The resource 'projects/{project}/zones/{zone}/instances/{name}' "
                         "is not ready")
        if verb == "resume" and inst["status"] != "SUSPENDED":
            raise _error(400, "resourceNotReady", f"Instance '{name}' is not suspended")
        after = {"start": "RUNNING", "stop": "TERMINATED", "reset": "RUNNING", "suspend": "SUSPENDED",
                 "resume": "RUNNING"}[verb]

        def effect() -> None:
            inst["status"] = after
            inst["lastStartTimestamp" if after == "RUNNING" else "lastStopTimestamp"] = _now()

        return self._operation(project, zone, verb, name, inst["id"], effect)


DEMO_PROJECT = "ml-research-demo"
DEMO_ZONES = {DEMO_PROJECT: ["us-central1-a", "us-central1-b", "europe-west4-a"]}


def seed_demo(fake: GceFake, now: datetime | None = None) -> None:
    """A handful of GPU and CPU instances in two regions of one project, started a while before `now`."""
    p, now = DEMO_PROJECT, now or datetime.now(UTC)
    fake.add(p, "us-central1-a", "a3-pretrain-0", "a3-highgpu-8g", spot=True, labels={"team": "llm-pretrain"},
             started=now - timedelta(days=2, hours=5))
    fake.add(p, "us-central1-a", "a2-finetune", "a2-highgpu-1g", labels={"team": "research", "env": "dev"},
             started=now - timedelta(days=6, hours=1))
    fake.add(p, "us-central1-b", "l4-serve-0", "g2-standard-4", labels={"team": "serving", "env": "prod"},
             started=now - timedelta(days=12))
    fake.add(p, "europe-west4-a", "t4-notebook", "n1-standard-8", running=False, accelerators=("nvidia-tesla-t4", 1),
             labels={"team": "research"}, started=now - timedelta(days=30))
    fake.add(p, "europe-west4-a", "ci-runner", "e2-standard-4", labels={"team": "platform"},
             started=now - timedelta(hours=7, minutes=20))


def gcp_source(name: str, endpoint: str, projects: tuple[str, ...] = (DEMO_PROJECT,)) -> SourceConfig:
    return SourceConfig(name, "gcp", timeout_seconds=30, colour="blue", label="gce",
                        settings={"projects": list(projects), "endpoint": endpoint, "prices_endpoint": endpoint,
                                  "anonymous": True,
                                  "max_attempts": 3})


class LazyGce(LazyService):
    """The demo's Compute Engine, started on first use on a port chosen now."""

    fake: GceFake | None = None

    def _start(self) -> None:
        fake = GceFake({p: list(z) for p, z in DEMO_ZONES.items()})
        seed_demo(fake)
        self.fake = fake.start(self.port)  # type: ignore[assignment]
