"""Model registry records (MLflow): registered models, versions, aliases and their history.

Versions are ints here whatever the store says (sqlite gives int, the REST API gives str), so
comparisons and sorting never depend on which kind of registry answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

HISTORY_TAG = "cockpit.alias_history."
"""Prefix of the model tag that keeps an alias's history on the server (`...production`)."""


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    source: str
    name: str
    description: str
    tags: tuple[tuple[str, str], ...]
    aliases: tuple[tuple[str, int], ...]
    latest_version: int | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def ref(self) -> str:
        return f"{self.source}/{self.name}"

    def alias(self, name: str) -> int | None:
        return next((v for a, v in self.aliases if a == name), None)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    source: str
    name: str
    version: int
    status: str
    source_uri: str
    run_id: str
    created_at: datetime | None
    user: str
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    stage: str = ""
    """Deprecated stages, shown read-only where a server still has them ("None" is left out)."""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class RunData:
    run_id: str
    metrics: tuple[tuple[str, float], ...]
    params: tuple[tuple[str, str], ...]
    status: str = ""
    experiment: str = ""


@dataclass(frozen=True, slots=True)
class AliasChange:
    """One move of an alias, as kept in the model's history tag."""

    alias: str
    version: int
    previous: int | None
    at: str
    by: str
