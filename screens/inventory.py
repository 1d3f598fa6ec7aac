"""The app's latest picture of every machines source, refreshed by one poll loop.

One poller for the whole app (not one per screen) keeps the number of backend calls independent
of how many screens show machines; screens read this and re-render when told it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cockpit.contracts import CockpitError
from cockpit.hub import Hub
from cockpit.model import HostGpu, Machine, Template


@dataclass(frozen=True, slots=True)
class Inventory:
    machines: dict[str, tuple[Machine, ...]] = field(default_factory=dict)
    gpus: dict[str, tuple[HostGpu, ...]] = field(default_factory=dict)
    templates: dict[str, tuple[Template, ...]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    polled_at: datetime | None = None
    loaded: bool = False

    def all_machines(self) -> list[Machine]:
        return [m for ms in self.machines.values() for m in ms]

    def find(self, ref: str) -> Machine | None:
        source, _, name = ref.partition("/")
        for m in self.machines.get(source, ()):
            if m.name == name:
                return m
        return None


def poll(hub: Hub, previous: Inventory) -> Inventory:
    """Blocking: ask every machines source for machines and host GPUs (runs in a thread)."""
    sources = [s.name for s in hub.sources("machines")]
    machines = dict(previous.machines)
    gpus = dict(previous.gpus)
    templates = dict(previous.templates)
    errors: dict[str, str] = {}
    calls = hub.call_many(sources, lambda b: (b.list_machines(), b.host_gpus(), b.templates()))
    for source, got in calls.items():
        if isinstance(got, CockpitError):
            errors[source] = got.message  # keep the last good rows, marked stale by the status bar
        else:
            machines[source] = tuple(sorted(got[0], key=lambda m: m.name))
            gpus[source] = tuple(got[1])
            templates[source] = tuple(got[2])
    return Inventory(machines, gpus, templates, errors, hub.now(), True)
