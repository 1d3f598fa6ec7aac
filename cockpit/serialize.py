"""Turn model records into JSON-ready values with stable keys (script output, audit, snapshots)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime
from typing import Any

from cockpit.model import Machine


def to_jsonable(value: Any) -> Any:
    if isinstance(value, Machine):
        return machine_to_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def utc_iso(when: datetime | None) -> str | None:
    """A time as script records give it: ISO-8601 in UTC to the second (`2026-11-23T09:30:00+00:00`),
    whatever zone the clock that made it used, so a cron job compares it with its own clock as is."""
    return None if when is None else when.astimezone(UTC).isoformat(timespec="seconds")


def machine_to_dict(m: Machine) -> dict[str, Any]:
    """A machine as script output shows it: tags as an object, GPUs as objects, times in ISO."""
    return {
        "ref": m.ref,
        "source": m.source,
        "name": m.name,
        "provider": m.provider,
        "location": m.location,
        "state": m.state.value,
        "native_state": m.native_state,
        "vcpus": m.vcpus,
        "memory_mib": m.memory_mib,
        "gpus": [to_jsonable(g) for g in m.gpus],
        "addresses": list(m.addresses),
        "tags": dict(m.tags),
        "uid": m.uid,
        "created_at": to_jsonable(m.created_at),
        "started_at": to_jsonable(m.started_at),
        "cpu_percent": m.cpu_percent,
        "template": m.template,
        "machine_type": m.machine_type,
        "lifecycle": m.lifecycle,
    }
