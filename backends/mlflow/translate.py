"""MLflow entities -> the cockpit's registry records. Versions become ints (sqlite says 3, the
REST API says "3"); millisecond timestamps become aware datetimes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cockpit.model_registry import AliasChange, ModelVersion, RegisteredModel, RunData


def _when(ms: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else None
    except (TypeError, ValueError, OverflowError):
        return None


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def aliases_by_version(model: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for alias, version in (getattr(model, "aliases", None) or {}).items():
        out.setdefault(_int(version), []).append(str(alias))
    return out


def registered_model(source: str, m: Any) -> RegisteredModel:
    latest = [_int(v.version) for v in getattr(m, "latest_versions", None) or []]
    return RegisteredModel(
        source=source, name=str(m.name), description=str(m.description or ""),
        tags=tuple(sorted((str(k), str(v)) for k, v in (m.tags or {}).items())),
        aliases=tuple(sorted((str(a), _int(v)) for a, v in (getattr(m, "aliases", None) or {}).items())),
        latest_version=max(latest) if latest else None, created_at=_when(m.creation_timestamp),
        updated_at=_when(m.last_updated_timestamp),
    )


def model_version(source: str, v: Any, aliases: dict[int, list[str]]) -> ModelVersion:
    number = _int(v.version)
    stage = str(getattr(v, "current_stage", "") or "")
    return ModelVersion(
        source=source, name=str(v.name), version=number, status=str(v.status or ""), source_uri=str(v.source or ""),
        run_id=str(v.run_id or ""), created_at=_when(v.creation_timestamp), user=str(v.user_id or ""),
        description=str(v.description or ""), tags=tuple(sorted((str(k), str(x)) for k, x in (v.tags or {}).items())),
        aliases=tuple(sorted(aliases.get(number, []))), stage="" if stage in ("", "None") else stage,
    )


def run_data(run: Any) -> RunData:
    return RunData(run_id=str(run.info.run_id), metrics=tuple(sorted(run.data.metrics.items())),
                   params=tuple(sorted((str(k), str(v)) for k, v in run.data.params.items())),
                   status=str(run.info.status or ""), experiment=str(run.info.experiment_id or ""))


def history(alias: str, value: str) -> list[AliasChange]:
    """The alias's moves from its history tag; an unreadable tag is an empty history, not an error."""
    try:
        items = json.loads(value) if value else []
    except ValueError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "version" in item:
            prev = item.get("previous")
            out.append(AliasChange(alias, _int(item["version"]), None if prev is None else _int(prev),
                                   str(item.get("at", "")), str(item.get("by", ""))))
    return out
