"""EC2 through boto3: instances of every configured region in one list, lifecycle actions, and
termination. Credentials only through boto3's chain; retries (throttling, 5xx) by botocore's
standard mode with bounded attempts and timeouts, so a region that does not answer fails in
seconds. A region that fails while others answer leaves its reason in `degraded`: the Machines
screen shows the rest and says which region is missing, rather than an empty or a failed list.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from backends._lazy import require
from backends.aws.translate import TypeInfo, machine, names, type_info
from cockpit.contracts import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    CockpitError,
    Conflict,
    Forbidden,
    NotFound,
    Unsupported,
)
from cockpit.model import HostGpu, Machine, ProvisionSpec, Template

FORBIDDEN = {"UnauthorizedOperation", "AuthFailure", "AccessDenied", "AccessDeniedException", "OptInRequired"}
NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}


class AwsBackend:
    kind = "aws"
    capabilities = frozenset({"machines", "actions", "destroy"})

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        boto3 = require("boto3", "aws")
        self._bc = require("botocore.exceptions", "aws")
        self._garbled = require("botocore.parsers", "aws").ResponseParserError
        config_mod = require("botocore.config", "aws")
        self.source = source
        profile = settings.get("profile")
        try:
            session = boto3.Session(profile_name=profile)
        except self._bc.ProfileNotFound:
            raise BadInput(f"{source}: profile {profile!r} is not in the AWS config (~/.aws/config)") from None
        regions = list(settings.get("regions") or ([session.region_name] if session.region_name else []))
        if not regions:
            raise BadInput(f"{source}: no region: set regions = [\"us-east-1\", ...] for the source, or a default "
                           "region in the AWS config")
        self.regions = regions
        config = config_mod.Config(retries={"mode": "standard", "max_attempts": int(settings.get("max_attempts") or 5)},
                                   connect_timeout=5, read_timeout=20)
        endpoint = settings.get("endpoint_url")
        self._clients = {r: session.client("ec2", region_name=r, endpoint_url=endpoint, config=config)
                         for r in regions}
        self._types: dict[tuple[str, str], TypeInfo] = {}
        self._where: dict[str, str] = {}  # instance id -> region, from the last listing
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=min(8, len(regions)), thread_name_prefix=f"aws-{source}")
        self.degraded: dict[str, str] = {}
        """Region -> why it is missing from the last list (the others answered)."""

    # -- errors ------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, region: str, what: str) -> Iterator[None]:
        bc = self._bc
        try:
            yield
        except bc.NoCredentialsError:
            raise BackendUnavailable(f"{self.source}: no AWS credentials (boto3 looked in the environment, ~/.aws and "
                                     "the instance role): run aws configure, or set profile for the source") from None
        except (bc.EndpointConnectionError, bc.ConnectTimeoutError) as e:
            raise BackendUnavailable(f"{self.source}: cannot reach EC2 in {region}: {e}") from None
        except bc.ReadTimeoutError:
            raise BackendTimeout(f"{self.source}: EC2 in {region} did not answer {what} in time") from None
        except bc.ClientError as e:
            err = e.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", "")).split("\n")[0]
            if code in FORBIDDEN:
                raise Forbidden(f"{self.source}: {region}: not allowed to {what} ({code})") from None
            if code in NOT_FOUND:
                raise NotFound(f"{self.source}: {region}: {message or code}") from None
            if code == "IncorrectInstanceState":
                raise Conflict(f"{self.source}: cannot {what}: {message}") from None
            raise BackendError(f"{self.source}: {region}: {what}: {code}: {message}") from None
        except (bc.BotoCoreError, self._garbled) as e:  # after botocore's retries: a 5xx that kept coming, garbage
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise BackendError(f"{self.source}: {region}: {what}: {first[:160]}") from None

    # -- reads -------------------------------------------------------------------------------
    def ping(self) -> None:
        region = self.regions[0]
        with self._errors(region, "describe availability zones"):
            self._clients[region].describe_availability_zones()

    def _instances(self, region: str, **filters: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._errors(region, "list instances"):
            for page in self._clients[region].get_paginator("describe_instances").paginate(**filters):
                for reservation in page.get("Reservations") or []:
                    out += reservation.get("Instances") or []
        return out

    def _type_infos(self, region: str, types: set[str]) -> None:
        missing = sorted(t for t in types if (region, t) not in self._types)
        for i in range(0, len(missing), 100):  # the API takes at most 100 names per call
            with self._errors(region, "describe instance types"):
                got = self._clients[region].describe_instance_types(InstanceTypes=missing[i:i + 100])
            with self._lock:
                for raw in got.get("InstanceTypes") or []:
                    self._types[region, str(raw["InstanceType"])] = type_info(raw)

    def _region(self, region: str) -> list[dict[str, Any]]:
        found = self._instances(region)
        self._type_infos(region, {str(i.get("InstanceType")) for i in found if i.get("InstanceType")})
        for raw in found:
            raw["_region"] = region
        return found

    def list_machines(self) -> Sequence[Machine]:
        """Every region at once; a region that fails is left out and named in `degraded`."""
        results = dict(zip(self.regions, self._pool.map(self._safe_region, self.regions), strict=True))
        failed = {r: e for r, e in results.items() if isinstance(e, CockpitError)}
        if failed and len(failed) == len(self.regions):
            raise next(iter(failed.values()))
        self.degraded = {r: e.message.removeprefix(f"{self.source}: ") for r, e in failed.items()}
        raws = [raw for got in results.values() if isinstance(got, list) for raw in got]
        return self._machines(raws)

    def _safe_region(self, region: str) -> list[dict[str, Any]] | CockpitError:
        try:
            return self._region(region)
        except CockpitError as e:
            return e

    def _machines(self, raws: list[dict[str, Any]]) -> list[Machine]:
        shown = names(raws)
        with self._lock:
            self._where.update({str(r["InstanceId"]): str(r["_region"]) for r in raws})
            return sorted((machine(self.source, r, self._types.get((r["_region"], str(r.get("InstanceType")))),
                                   shown[str(r["InstanceId"])]) for r in raws), key=lambda m: (m.location, m.name))

    def _find(self, name: str) -> tuple[str, dict[str, Any], str]:
        """(region, raw instance, shown name) for an instance id or a unique Name tag."""
        every = [raw for r in self.regions for raw in self._safe_list(r)]
        shown = names(every)
        hits = [raw for raw in every if raw["InstanceId"] == name or shown[str(raw["InstanceId"])] == name]
        if not hits:
            twins = [raw["InstanceId"] for raw in every if any(t.get("Key") == "Name" and t.get("Value") == name
                                                                for t in raw.get("Tags") or [])]
            if twins:
                raise BadInput(f"{self.source}: {len(twins)} instances are named {name!r}: use an id "
                               f"({', '.join(sorted(twins))})")
            raise NotFound(f"{self.source}: no instance {name!r} in {', '.join(self.regions)}")
        raw = hits[0]
        return str(raw["_region"]), raw, shown[str(raw["InstanceId"])]

    def _safe_list(self, region: str) -> list[dict[str, Any]]:
        got = self._safe_region(region)
        if isinstance(got, CockpitError):
            if len(self.regions) == 1:
                raise got
            return []
        return got

    def get_machine(self, name: str) -> Machine:
        region, raw, shown = self._find(name)
        return machine(self.source, raw, self._types.get((region, str(raw.get("InstanceType")))), shown)

    def describe(self, name: str) -> str:
        return _as_json(self._find(name)[1])

    # -- changes -----------------------------------------------------------------------------
    def act(self, name: str, action: str) -> Machine:
        region, raw, shown = self._find(name)
        iid = str(raw["InstanceId"])
        client = self._clients[region]
        calls: dict[str, tuple[str, Callable[[], Any]]] = {
            "start": ("start", lambda: client.start_instances(InstanceIds=[iid])),
            "resume": ("start", lambda: client.start_instances(InstanceIds=[iid])),
            "stop": ("stop", lambda: client.stop_instances(InstanceIds=[iid])),
            "force-off": ("force-stop", lambda: client.stop_instances(InstanceIds=[iid], Force=True)),
            "reboot": ("reboot", lambda: client.reboot_instances(InstanceIds=[iid])),
            "suspend": ("hibernate", lambda: client.stop_instances(InstanceIds=[iid], Hibernate=True)),
        }
        if action not in calls:
            raise Unsupported(f"{self.source}: EC2 has no {action!r}")
        verb, call = calls[action]
        with self._errors(region, f"{verb} {iid}"):
            call()
        # the state after: one describe of this instance in its region, not another listing of all
        (after,) = self._instances(region, InstanceIds=[iid])
        return machine(self.source, after, self._types.get((region, str(after.get("InstanceType")))), shown)

    def destroy(self, name: str, remove_storage: bool) -> str:
        """Terminate; returns the instance as it was, for the audit log. EBS volumes marked
        DeleteOnTermination go with it, whatever `remove_storage` says: EC2 decides per volume."""
        region, raw, _ = self._find(name)
        description = _as_json(raw)  # one lookup for the record and the call
        with self._errors(region, f"terminate {raw['InstanceId']}"):
            self._clients[region].terminate_instances(InstanceIds=[raw["InstanceId"]])
        return description

    # -- what a cloud account does not have --------------------------------------------------
    def templates(self) -> Sequence[Template]:
        return ()

    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        raise Unsupported(f"{self.source}: provisioning EC2 instances is not in this build yet (vm provision works on "
                          "libvirt sources)")

    def provision(self, spec: ProvisionSpec) -> Machine:
        raise Unsupported(f"{self.source}: provisioning EC2 instances is not in this build yet")

    def host_gpus(self) -> Sequence[HostGpu]:
        return ()  # a cloud account has no hypervisor host of its own to list

    def watch(self, on_change: Callable[[str], None]) -> None:
        return None  # EC2 state changes arrive through EventBridge, not to a client: the poll covers them

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for client in self._clients.values():
            client.close()


def _as_json(raw: Mapping[str, Any]) -> str:
    """The instance as EC2 described it (cockpit's own bookkeeping keys left out)."""
    return json.dumps({k: v for k, v in raw.items() if not k.startswith("_")}, indent=2, default=str, sort_keys=True)
