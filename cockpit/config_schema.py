"""The config file's schema, in pydantic: loaded only when a file is parsed (see config.py). Each
`[sources.NAME]` table is checked by its kind's own schema (`cockpit.providers.KIND_settings`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from cockpit.providers.common_settings import Strict


class UiModel(Strict):
    theme: Literal["dark", "light", "high-contrast", "ansi"] = "dark"
    refresh_seconds: float = Field(default=10.0, ge=0, le=3600)
    metrics_refresh_seconds: float = Field(default=2.0, ge=0.5, le=3600)


class OnPremModelSchema(Strict):
    """`[costs.onprem]`: $ per hour of what an HPC (libvirt) VM holds (defaults: cockpit.costs)."""

    gpu_hour: dict[str, float] | None = Field(default=None, description="GPU model -> $ per GPU-hour")
    gpu_hour_default: float | None = Field(default=None, ge=0)
    vcpu_hour: float | None = Field(default=None, ge=0)
    gib_hour: float | None = Field(default=None, ge=0)

    @field_validator("gpu_hour")
    @classmethod
    def _rates(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        bad = [k for k, rate in (v or {}).items() if rate < 0 or not k.strip()]
        if bad:
            raise ValueError(f"{bad[0]!r}: a GPU model needs a rate of 0 or more")
        return v


class CostsModel(Strict):
    onprem: OnPremModelSchema = OnPremModelSchema()
    budgets: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict,
                                                              description="source -> $ per month")


class AuditModel(Strict):
    path: str | None = None
    record_refusals: bool = True
    """Also record the changes cockpit refused (read-only, no --yes): who tried what, and when."""


class FileModel(Strict):
    ui: UiModel = UiModel()
    audit: AuditModel = AuditModel()
    costs: CostsModel = CostsModel()
    keys: dict[str, str] = {}
    read_only: bool = False
    local_machine: bool = True
    sources: dict[str, dict[str, Any]] = {}
