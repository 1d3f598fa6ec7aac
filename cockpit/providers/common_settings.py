"""What every `[sources.NAME]` table may say, whatever its kind (pydantic: the config's edge).

Imported only when a config file is parsed, with the kind's own schema (`PROVIDER.settings_schema()`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceCommon(Strict):
    kind: str
    read_only: bool = False
    timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    colour: Literal["red", "amber", "green", "blue", "magenta", "cyan"] | None = None
    label: str | None = Field(default=None, max_length=24)
