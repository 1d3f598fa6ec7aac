"""What a backend must offer, as Protocols, and the typed errors every layer speaks.

The error classes carry the exit code of the script mode so that the registry, the script
runner and the UI agree on what a failure means without string matching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from cockpit.model import HostGpu, Machine, ProvisionSpec, Template


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


@runtime_checkable
class MachineBackend(Protocol):
    """A source of machines: a libvirt host, a cloud account in a region.

    Every method is blocking and may be slow; the hub runs them in threads with a timeout.
    Methods raise the errors above, never SDK exceptions.
    """

    kind: str
    source: str
    """The configured source name this backend serves (it prefixes every error it raises)."""
    capabilities: frozenset[str]

    def ping(self) -> None:
        """One cheap round trip to the source, to measure health."""
        ...

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

    def close(self) -> None: ...


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
