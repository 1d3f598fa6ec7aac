"""What a backend must offer, as Protocols, and the typed errors every layer speaks.

The error classes carry the exit code of the script mode so that the registry, the script
runner and the UI agree on what a failure means without string matching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from cockpit.model import HostGpu, Machine, ProvisionSpec, Template

if TYPE_CHECKING:  # the roles' records; imported for the annotations only (no import cycle at run time)
    from cockpit.model import CloudOffer, CloudProvisionSpec, Provisioned
    from cockpit.model_kube import (
        ClusterSnapshot,
        Deployment,
        DrainPlan,
        DrainResult,
        Hpa,
        InferenceService,
        KubeNode,
        Revision,
    )
    from cockpit.model_metrics import LocalSnapshot, PanelResult, PanelSpec, Series
    from cockpit.model_registry import AliasChange, ModelVersion, RegisteredModel, RunData
    from cockpit.prices import Offer
    from cockpit.spend import Spend


class CockpitError(Exception):
    """Base of every error cockpit reports to a person: one line, no traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInput(CockpitError):
    """A command line, argument or config value is wrong (exit code 2)."""

    exit_code = 2


class Cancelled(CockpitError):
    """A person stopped following an operation (the change itself, already made, goes on)."""

    exit_code = 1


class Refused(CockpitError):
    """Cockpit refused a mutation: read-only, or not confirmed (exit code 3)."""

    exit_code = 3


class BackendError(CockpitError):
    """The operation reached a backend and failed there (exit code 1)."""


class BackendFault(BackendError):
    """The source answered, but with its own failure: HTTP 5xx after the retries, an answer not in
    the API's shape, an SDK error nobody expected. Unlike NotFound or Conflict (the source is fine,
    the request was not), this makes the source unhealthy."""


class BackendUnavailable(BackendError):
    """The source could not be reached or opened."""


class BackendTimeout(BackendError):
    """The source did not answer in time; the call may still complete on its side."""


class NotFound(BackendError):
    """The named machine (or other object) does not exist on that source."""


class Conflict(BackendError):
    """The change would collide with the current state (e.g. a GPU already in use)."""


class Unsupported(BackendError):
    """The source cannot do this (driver limitation or missing capability)."""


class Forbidden(BackendError):
    """The source refused the request for this identity (Kubernetes RBAC: "forbidden: list nodes")."""


class SdkMissing(BackendUnavailable):
    """The backend's SDK is not installed; the message says which extra to install."""


SDK_IMPORT_LOCK = threading.RLock()
"""Held while an SDK is imported and while a backend is built. Python's per-module import locks
do not stop two threads importing two SDKs that share dependencies from seeing each other's
half-initialised modules (kubernetes' kube_config and google.auth both import requests: one
thread then finds `requests` without `exceptions`), so the hub and `backends._lazy` take this
one lock instead: one import at a time in the whole process."""

Unsubscribe = Callable[[], None]


# -- the roles ---------------------------------------------------------------------------------
# One Protocol per role a source plays, listing exactly what the core calls on it (derived from the
# call sites: a method no command, screen or poll calls is the adapter's own business). The hub
# hands a call's function the backend typed by the role asked for (`hub.call(source, MACHINES,
# lambda b: b.list_machines())`), so mypy checks every backend call; each adapter declares the
# roles it plays (a `TYPE_CHECKING` assignment at its end), so mypy checks them structurally too.
# Every method is blocking and may be slow; the hub runs them in threads with a timeout. Methods
# raise the errors above, never SDK exceptions.


@runtime_checkable
class SourceBackend(Protocol):
    """What every backend offers whatever its role: the health round trip and its identity. The
    role `ANY_SOURCE` asks for this much (the health check pings every source)."""

    kind: str
    source: str
    """The configured source name this backend serves (it prefixes every error it raises)."""

    def ping(self) -> None:
        """One cheap round trip to the source, to measure health."""
        ...

    def close(self) -> None:
        """Release connections and threads; the hub calls it off the caller's thread."""
        ...


@runtime_checkable
class MachineBackend(SourceBackend, Protocol):
    """A source of machines: a libvirt host, a cloud account in a region (role `machines`).

    A cloud account offers the whole role (no templates, no host GPUs, no events: empty answers,
    or Unsupported for template provisioning, which has its own role on a cloud), so every machine
    screen and command treats all machine sources alike.
    """

    def list_machines(self) -> Sequence[Machine]: ...

    def get_machine(self, name: str) -> Machine: ...

    def describe(self, name: str) -> str:
        """The machine's full native description (libvirt: the domain XML), secrets removed."""
        ...

    def act(self, name: str, action: str) -> Machine:
        """Run a lifecycle action (start, shutdown, reboot, force-off, suspend, resume)."""
        ...

    def destroy(self, name: str, remove_storage: bool) -> str:
        """Delete the machine; returns its native description as it was, for the audit log."""
        ...

    def templates(self) -> Sequence[Template]: ...

    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        """Validate without changing anything; returns warnings, raises on a hard conflict."""
        ...

    def provision(self, spec: ProvisionSpec) -> Machine: ...

    def host_gpus(self) -> Sequence[HostGpu]: ...

    def watch(self, on_change: Callable[[str], None]) -> Unsubscribe | None:
        """Subscribe to change events; None when the source has none (poll instead)."""
        ...


@runtime_checkable
class CloudProvisioning(SourceBackend, Protocol):
    """A cloud account that creates instances from a type and an image (role `provisioning`): a
    separate role from `machines` because a libvirt host provisions from templates instead
    (`MachineBackend.provision`), and `vm provision` takes a different path for each."""

    def check_cloud_provision(self, spec: CloudProvisionSpec) -> CloudOffer:
        """What the spec would create and cost, checked against the cloud without creating anything."""
        ...

    def provision_cloud(self, spec: CloudProvisionSpec) -> Provisioned:
        """Create the spec's instances (spot first, on-demand where the spec allows the fallback)."""
        ...

    def offered(self, where: str, types: Sequence[str]) -> dict[str, str | None]:
        """For each type, None when this account can provision it in `where` (a region; a zone for
        Compute Engine), else why not in one line: the price catalogue lists what a cloud sells
        somewhere, and the comparator must not offer what the provision would then refuse."""
        ...


@runtime_checkable
class SpendBackend(SourceBackend, Protocol):
    """A cloud account whose billing says what was charged (role `spend`): its own role because the
    billing API is another service with its own permissions and cost (Cost Explorer bills each
    request); a cloud whose billing is not read raises Unsupported saying why."""

    def spend(self, start: date, end: date) -> Spend:
        """The charges over [start, end) by day and service."""
        ...


@runtime_checkable
class PriceBackend(SourceBackend, Protocol):
    """A cloud account whose price API refreshes the catalogue (role `prices`; `cost catalogue
    refresh` asks one source per cloud, not every machine source)."""

    def price_offers(self, wanted: list[tuple[str, str]], known: Mapping[tuple[str, str], Offer]) -> list[Offer]:
        """Today's on-demand prices of the (machine type, region) pairs wanted; `known` holds the
        bundled rows, whose shapes fill in what the price API does not say."""
        ...


@runtime_checkable
class ClusterBackend(SourceBackend, Protocol):
    """A Kubernetes cluster (role `clusters`): reads come from a watch cache, writes are the node,
    deployment, autoscaler and KServe changes the commands make (each returns the object after)."""

    def snapshot(self, wait: float = 10.0) -> ClusterSnapshot:
        """The watch cache as records; the first call starts the watches and waits for their lists."""
        ...

    def watch(self, on_change: Callable[[str], None]) -> Unsubscribe | None:
        """Subscribe to the cache's change events."""
        ...

    def node(self, name: str) -> KubeNode: ...

    def set_unschedulable(self, name: str, value: bool) -> KubeNode:
        """Cordon (True) or uncordon (False) a node."""
        ...

    def drain_plan(self, name: str) -> DrainPlan:
        """What a drain would evict and what blocks it, changing nothing."""
        ...

    def drain(self, name: str, *, force: bool = False, timeout: float = 60.0) -> DrainResult: ...

    def deployment(self, ns: str, name: str) -> Deployment: ...

    def scale(self, ns: str, name: str, replicas: int) -> Deployment: ...

    def restart(self, ns: str, name: str) -> Deployment: ...

    def history(self, ns: str, name: str) -> list[Revision]: ...

    def rollback_template(self, ns: str, name: str, to_revision: int | None
                          ) -> tuple[Revision, dict[str, Any], bool]:
        """The revision a rollback would restore, its pod template, and whether it is the current one."""
        ...

    def rollback(self, ns: str, name: str, to_revision: int | None) -> Deployment: ...

    def set_image(self, ns: str, name: str, images: Mapping[str, str]) -> Deployment: ...

    def set_env(self, ns: str, name: str, container: str, key: str, value: str) -> Deployment: ...

    def canary_deployment(self, ns: str, name: str, container: str, key: str, value: str,
                          replicas: int) -> Deployment:
        """A Deployment `NAME-canary` beside NAME: its template with one env var set and a `track:
        canary` label; created, or its replicas and env updated when it exists."""
        ...

    def delete_deployment(self, ns: str, name: str) -> None: ...

    def hpa(self, ns: str, name: str) -> Hpa: ...

    def hpa_set(self, ns: str, name: str, minimum: int, maximum: int) -> Hpa: ...

    def inference_service(self, ns: str, name: str) -> InferenceService: ...

    def isvc_storage(self, ns: str, name: str, uri: str, canary: int | None = None) -> InferenceService: ...

    def isvc_canary(self, ns: str, name: str, percent: int | None) -> InferenceService: ...


@runtime_checkable
class RegistryBackend(SourceBackend, Protocol):
    """A model registry (MLflow; role `registry`): models, their versions and runs, and the alias
    and tag changes `model promote` and `model tag` make."""

    def models(self) -> list[RegisteredModel]: ...

    def model(self, name: str) -> RegisteredModel: ...

    def versions(self, name: str) -> list[ModelVersion]: ...

    def version(self, name: str, version: int) -> ModelVersion: ...

    def run(self, run_id: str) -> RunData | None:
        """The run that produced a version; None when the registry no longer has it."""
        ...

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]: ...

    def set_alias(self, name: str, alias: str, version: int, previous: int | None, by: str) -> RegisteredModel:
        """Point the alias at the version (`previous` is what the caller saw: a race is a Conflict)."""
        ...

    def set_tag(self, name: str, version: int | None, key: str, value: str) -> None: ...

    def register(self, name: str, run_id: str, path: str, tags: Sequence[tuple[str, str]]) -> ModelVersion:
        """A new version of NAME (the model created if new) from a run's artifact at `path`; its
        source is the artifact's own location, which a server (KServe's storageUri) can load."""
        ...


@runtime_checkable
class SeriesBackend(SourceBackend, Protocol):
    """A time-series store (Prometheus; role `series`): instant and range queries, and the
    configured panels at once (cockpit.promql builds the snapshot from those)."""

    def query(self, promql: str, at: float | None = None) -> tuple[Series, ...]: ...

    def query_range(self, promql: str, start: float, end: float, step: float) -> tuple[Series, ...]: ...

    def panels(self, specs: Sequence[PanelSpec], window_s: float, step_s: float,
               now: float | None = None) -> tuple[PanelResult, ...]:
        """Every panel over [now - window, now]; a panel whose query fails says why in its result."""
        ...


@runtime_checkable
class LocalMetricsBackend(SourceBackend, Protocol):
    """This machine's own host and GPU figures (psutil, NVML; role `metrics`)."""

    def snapshot(self) -> LocalSnapshot: ...


B_co = TypeVar("B_co", bound=SourceBackend, covariant=True)


@dataclass(frozen=True, slots=True)
class Role(Generic[B_co]):
    """A role's name (as each provider descriptor lists its roles) tied to its Protocol, for the type checker.

    A token rather than the Protocol class itself: mypy refuses a Protocol where `type[T]` is
    expected ("only concrete class"), and the hub needs the role's name at run time to refuse a
    source whose kind does not play it. `every_kind`: a role every source plays (`ANY_SOURCE`).
    """

    name: str
    every_kind: bool = False

    def __str__(self) -> str:
        return self.name


ANY_SOURCE: Role[SourceBackend] = Role("source", every_kind=True)
MACHINES: Role[MachineBackend] = Role("machines")
PROVISIONING: Role[CloudProvisioning] = Role("provisioning")
SPEND: Role[SpendBackend] = Role("spend")
PRICES: Role[PriceBackend] = Role("prices")
CLUSTERS: Role[ClusterBackend] = Role("clusters")
REGISTRY: Role[RegistryBackend] = Role("registry")
SERIES: Role[SeriesBackend] = Role("series")
LOCAL_METRICS: Role[LocalMetricsBackend] = Role("metrics")


BackendFactory = Callable[[str, Mapping[str, Any]], Any]
"""`create(source_name, settings)` that every backend module exposes."""

MACHINE_ACTIONS: Mapping[str, str] = {
    "start": "start",
    "stop": "shut down",
    "reboot": "reboot",
    "force-off": "force off",
    "suspend": "suspend",
    "resume": "resume",
}
"""Lifecycle actions every machine backend understands, with the verb a confirmation uses."""

ACTION_HELP: Mapping[str, str] = {
    "start": "start a machine",
    "stop": "shut a machine down gracefully (ACPI; the guest decides when)",
    "reboot": "reboot a machine",
    "force-off": "power a machine off at once, like pulling the plug",
    "suspend": "pause a machine's vCPUs, keeping its memory",
    "resume": "resume a paused machine",
}
