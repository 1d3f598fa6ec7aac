"""EC2 through boto3: instances of every configured region in one list, lifecycle actions, and
termination. Credentials only through boto3's chain; retries (throttling, 5xx) by botocore's
standard mode with bounded attempts and timeouts, so a region that does not answer fails in
seconds. A region that fails while others answer leaves its reason in `degraded`: the Machines
screen shows the rest and says which region is missing, rather than an empty or a failed list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from backends._lazy import require
from backends.aws.translate import TypeInfo, machine, tag_dict, type_info
from backends.cloud import CloudBackend, Listed, as_json
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

FORBIDDEN = {"UnauthorizedOperation", "AuthFailure", "AccessDenied", "AccessDeniedException", "OptInRequired"}
NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}


class AwsBackend(CloudBackend):
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
        super().__init__(source, regions)
        config = config_mod.Config(retries={"mode": "standard", "max_attempts": int(settings.get("max_attempts") or 5)},
                                   connect_timeout=5, read_timeout=20)
        endpoint = settings.get("endpoint_url")
        self._clients = {r: session.client("ec2", region_name=r, endpoint_url=endpoint, config=config)
                         for r in regions}
        self._types: dict[tuple[str, str], TypeInfo] = {}
        self._lock = threading.Lock()

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
        region = self.scopes[0]
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

    def _list(self, region: str) -> list[Listed]:
        found = self._instances(region)
        self._type_infos(region, {str(i.get("InstanceType")) for i in found if i.get("InstanceType")})
        return [_listed(region, raw) for raw in found]

    def _machine(self, item: Listed, name: str) -> Machine:
        return machine(self.source, item.raw, self._types.get((item.scope, str(item.raw.get("InstanceType")))), name)

    # -- changes -----------------------------------------------------------------------------
    def act(self, name: str, action: str) -> Machine:
        item, shown = self._find(name)
        region, iid = item.scope, item.key
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
        return self._machine(_listed(region, after), shown)

    def destroy(self, name: str, remove_storage: bool) -> str:
        """Terminate; returns the instance as it was, for the audit log. EBS volumes marked
        DeleteOnTermination go with it, whatever `remove_storage` says: EC2 decides per volume."""
        item, _ = self._find(name)
        with self._errors(item.scope, f"terminate {item.key}"):
            self._clients[item.scope].terminate_instances(InstanceIds=[item.key])
        return as_json(item.raw)

    # -- provisioning ----------------------------------------------------------------------
    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        raise Unsupported(f"{self.source}: provisioning EC2 instances is not in this build yet (vm provision works on "
                          "libvirt sources)")

    def provision(self, spec: ProvisionSpec) -> Machine:
        raise Unsupported(f"{self.source}: provisioning EC2 instances is not in this build yet")

    def close(self) -> None:
        super().close()
        for client in self._clients.values():
            client.close()


def _listed(region: str, raw: dict[str, Any]) -> Listed:
    iid = str(raw["InstanceId"])
    return Listed(region, iid, tag_dict(raw).get("Name", ""), iid, raw, {})
