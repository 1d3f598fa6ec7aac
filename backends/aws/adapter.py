"""EC2 through boto3: instances of every configured region in one list, lifecycle actions, and
termination. Credentials only through boto3's chain; retries (throttling, 5xx) by botocore's
standard mode with bounded attempts and timeouts, so a region that does not answer fails in
seconds. A region that fails while others answer leaves its reason in `degraded`: the Machines
screen shows the rest and says which region is missing, rather than an empty or a failed list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from backends._lazy import require
from backends.aws.translate import TypeInfo, machine, tag_dict, type_info, volume_ids
from backends.cloud import CloudBackend, Listed, as_json, spot_or_fallback
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
from cockpit.spend import Spend

FORBIDDEN = {"UnauthorizedOperation", "AuthFailure", "AccessDenied", "AccessDeniedException", "OptInRequired"}
SPOT_REFUSED = {"InsufficientInstanceCapacity", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
                "InsufficientCapacity", "UnfulfillableCapacity", "InsufficientFreeAddressesInSubnet"}
"""What EC2 answers when it has no spot capacity to give at that price: --fallback on-demand applies."""
NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}


class AwsBackend(CloudBackend):
    kind = "aws"

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
        tries = int(settings.get("max_attempts") or 5)  # botocore's max_attempts counts retries only: total_ is tries
        config = config_mod.Config(retries={"mode": "standard", "total_max_attempts": tries}, connect_timeout=5,
                                   read_timeout=20)
        endpoint = settings.get("endpoint_url")
        self._clients = {r: session.client("ec2", region_name=r, endpoint_url=endpoint, config=config)
                         for r in regions}
        self._session, self._config, self._endpoint = session, config, endpoint
        self._price_endpoint = settings.get("price_endpoint_url")
        self._cost_endpoint = settings.get("cost_endpoint_url")
        self._types: dict[tuple[str, str], TypeInfo] = {}
        self._lock = threading.Lock()

    # -- errors ------------------------------------------------------------------------------
    @contextmanager
    def _errors(self, region: str, what: str, service: str = "EC2") -> Iterator[None]:
        bc = self._bc
        try:
            yield
        except bc.NoCredentialsError:
            raise BackendUnavailable(f"{self.source}: no AWS credentials (boto3 looked in the environment, ~/.aws and "
                                     "the instance role): run aws configure, or set profile for the source") from None
        except (bc.EndpointConnectionError, bc.ConnectTimeoutError) as e:
            raise BackendUnavailable(f"{self.source}: cannot reach {service} in {region}: {e}") from None
        except bc.ReadTimeoutError:
            raise BackendTimeout(f"{self.source}: {service} in {region} did not answer {what} in time") from None
        except bc.ClientError as e:
            err = e.response.get("Error", {})
            code, message = str(err.get("Code", "")), str(err.get("Message", "")).split("\n")[0]
            if code in FORBIDDEN:
                raise Forbidden(f"{self.source}: {region}: not allowed to {what} ({code})") from None
            if code in NOT_FOUND:
                raise NotFound(f"{self.source}: {region}: {message or code}") from None
            if code == "IncorrectInstanceState":
                raise Conflict(f"{self.source}: cannot {what}: {message}") from None
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            error = BackendFault if status >= 500 else BackendError  # 5xx: still failing after the retries
            raise error(f"{self.source}: {region}: {what}: {code}: {message}") from None
        except (bc.BotoCoreError, self._garbled) as e:  # after botocore's retries: a 5xx that kept coming, garbage
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise BackendFault(f"{self.source}: {region}: {what}: {first[:160]}") from None

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

    def _machine(self, item: Listed, name: str, gib: Mapping[str, int] | None = None) -> Machine:
        info = self._types.get((item.scope, str(item.raw.get("InstanceType"))))
        return machine(self.source, item.raw, info, name, gib)

    def get_machine(self, name: str) -> Machine:
        """One instance, with the sizes of its volumes: one describe_volumes for this instance
        (a listing names the volumes only, so that it stays one call per region)."""
        item, shown = self._find(name)
        return self._machine(item, shown, self._volume_gib(item.scope, volume_ids(item.raw)))

    def _volume_gib(self, region: str, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        with self._errors(region, "describe volumes"):
            found = self._clients[region].describe_volumes(VolumeIds=ids).get("Volumes") or []
        return {str(v["VolumeId"]): int(v["Size"]) for v in found if v.get("Size") is not None}

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

    # -- provisioning ------------------------------------------------------------------------
    def check_cloud_provision(self, spec: CloudProvisionSpec) -> CloudOffer:
        """The size and the image as this region knows them; nothing is created."""
        region = self._region_of(spec)
        client = self._clients[region]
        try:
            self._type_infos(region, {spec.machine_type})
        except BackendError as e:
            if "InvalidInstanceType" in e.message:
                raise BadInput(f"--type: no instance type {spec.machine_type!r} in {region}") from None
            raise
        info = self._types.get((region, spec.machine_type))
        if info is None:
            raise BadInput(f"--type: no instance type {spec.machine_type!r} in {region}")
        try:
            images = client.describe_images(ImageIds=[spec.image]).get("Images") or []
        except self._bc.ClientError as e:
            if str(e.response.get("Error", {}).get("Code", "")).startswith("InvalidAMIID"):
                images = []
            else:
                with self._errors(region, "describe images"):
                    raise
        if not images:
            raise BadInput(f"--image: no AMI {spec.image!r} in {region}")
        warnings = []
        taken = [spec_name for spec_name in spec.names if any(
            tag_dict(raw).get("Name") == spec_name for raw in self._instances(region, Filters=[
                {"Name": "tag:Name", "Values": [spec_name]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]))]
        if taken:
            warnings.append(f"already named so in {region}: {', '.join(taken)} (a shared Name shows as the id)")
        return CloudOffer(spec.machine_type, info.vcpus, info.memory_mib, info.gpus, tuple(warnings))

    def offered(self, where: str, types: Sequence[str]) -> dict[str, str | None]:
        """describe_instance_type_offerings in the region (a source provisions in its own regions only)."""
        if where not in self.scopes:
            return dict.fromkeys(types, f"{where} is not one of {self.source}'s regions ({', '.join(self.scopes)})")
        found: set[str] = set()
        wanted = sorted(set(types))
        for i in range(0, len(wanted), 100):
            with self._errors(where, "describe instance type offerings"):
                pages = self._clients[where].get_paginator("describe_instance_type_offerings").paginate(
                    LocationType="region", Filters=[{"Name": "instance-type", "Values": wanted[i:i + 100]}])
                for page in pages:
                    found |= {str(o.get("InstanceType")) for o in page.get("InstanceTypeOfferings") or []}
        return {t: None if t in found else f"{where} does not offer {t}" for t in types}

    def _region_of(self, spec: CloudProvisionSpec) -> str:
        if spec.location not in self.scopes:
            raise BadInput(f"{self.source}: region {spec.location!r} is not one of the source's "
                           f"({', '.join(self.scopes)})")
        return spec.location

    def provision_cloud(self, spec: CloudProvisionSpec) -> Provisioned:
        """One run_instances for all N (all or nothing), then each its Name; spot may fall back."""
        region = self._region_of(spec)
        client = self._clients[region]
        tags = [{"Key": k, "Value": v} for k, v in spec.tags]
        request: dict[str, Any] = {"ImageId": spec.image, "InstanceType": spec.machine_type, "MinCount": spec.count,
                                   "MaxCount": spec.count,
                                   "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}] if tags else []}
        if spec.subnet:
            request["SubnetId"] = spec.subnet
        if spec.disk_gib:
            with self._errors(region, "describe images"):
                root = client.describe_images(ImageIds=[spec.image])["Images"][0].get("RootDeviceName", "/dev/xvda")
            request["BlockDeviceMappings"] = [{"DeviceName": root, "Ebs": {
                "VolumeSize": spec.disk_gib, "VolumeType": "gp3", "DeleteOnTermination": True}}]

        def run(spot: bool) -> list[dict[str, Any]]:
            extra: dict[str, Any] = {}
            if spot:
                options: dict[str, Any] = {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
                if spec.max_price:
                    options["MaxPrice"] = f"{spec.max_price:g}"
                extra["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": options}
            return list(client.run_instances(**request, **extra).get("Instances") or [])

        def refused(e: BaseException) -> str | None:
            if isinstance(e, self._bc.ClientError):
                err = e.response.get("Error", {})
                if err.get("Code") in SPOT_REFUSED:
                    return f"{err.get('Code')}: {str(err.get('Message', '')).splitlines()[0][:120]}"
            return None

        # raw SDK errors until here, so that `refused` can read a spot refusal's code
        with self._errors(region, f"run {spec.count}{' spot' if spec.spot else ''} × {spec.machine_type}"):
            made, steps = spot_or_fallback(spec, region, run, refused)
        ids = [str(raw["InstanceId"]) for raw in made]
        for iid, name in zip(ids, spec.names, strict=True):
            with self._errors(region, f"tag {iid}"):
                client.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": name}])
        after = self._instances(region, InstanceIds=ids)
        shown = {str(raw["InstanceId"]): tag_dict(raw).get("Name", "") for raw in after}
        return Provisioned(tuple(sorted((self._machine(_listed(region, raw), shown[str(raw["InstanceId"])] or
                                                       str(raw["InstanceId"])) for raw in after),
                                        key=lambda m: m.name)), tuple(steps))

    # -- prices ------------------------------------------------------------------------------
    def price_offers(self, wanted: list[tuple[str, str]], known: Mapping[tuple[str, str], Offer]) -> list[Offer]:
        """On-demand and spot $/hour of (type, region) pairs, from AWS's own price APIs."""
        from backends.aws.prices import fetch

        pricing = self._session.client("pricing", region_name="us-east-1", endpoint_url=self._price_endpoint,
                                       config=self._config)

        def ec2_for(region: str) -> Any:
            return self._session.client("ec2", region_name=region, endpoint_url=self._price_endpoint or self._endpoint,
                                        config=self._config)

        with self._errors("us-east-1", "read the Price List API and the spot price history"):
            return fetch(pricing, ec2_for, wanted, known)

    # -- spend -------------------------------------------------------------------------------
    def spend(self, start: date, end: date) -> Spend:
        """What the account was charged per day and service over [start, end), from Cost Explorer."""
        from backends.aws.spend import lines_of, request

        ce = self._session.client("ce", region_name="us-east-1", endpoint_url=self._cost_endpoint,
                                  config=self._config)
        pages: list[dict[str, Any]] = []
        token: str | None = None
        try:
            with self._errors("us-east-1", "read Cost Explorer (ce:GetCostAndUsage)", "Cost Explorer"):
                while True:
                    page = ce.get_cost_and_usage(**request(start, end), **({"NextPageToken": token} if token else {}))
                    pages.append(page)
                    token = page.get("NextPageToken")
                    if not token:
                        break
        finally:
            ce.close()
        lines, currency = lines_of(pages, start, end)
        return Spend(self.source, "aws", "AWS Cost Explorer", "the whole account", start, end, currency,
                     tuple(lines))

    def close(self) -> None:
        super().close()
        for client in self._clients.values():
            client.close()


def _listed(region: str, raw: dict[str, Any]) -> Listed:
    iid = str(raw["InstanceId"])
    return Listed(region, iid, tag_dict(raw).get("Name", ""), iid, raw, {})


if TYPE_CHECKING:  # the roles cockpit.providers gives "aws": mypy checks the class against each role's Protocol
    from cockpit.contracts import CloudProvisioning, MachineBackend, PriceBackend, SpendBackend

    _machines: type[MachineBackend] = AwsBackend
    _provisioning: type[CloudProvisioning] = AwsBackend
    _spend: type[SpendBackend] = AwsBackend
    _prices: type[PriceBackend] = AwsBackend
