"""The `[sources.NAME]` schema of a gcp source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
    """Compute Engine in one or more projects. Credentials come only through Application Default
    Credentials (gcloud auth application-default login, GOOGLE_APPLICATION_CREDENTIALS, the
    metadata server), never from this file."""

    projects: list[str] | None = Field(default=None, description="default: the credentials' project")
    zones: list[str] | None = Field(default=None, description="only these zones (default: every zone)")
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$",
                                 description="a Compute-compatible endpoint (a local fake, Private Service Connect)")
    prices_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$",
                                        description="where `cost catalogue refresh` asks the Cloud Billing Catalog "
                                                    "API (a local fake); default: cloudbilling.googleapis.com")
    anonymous: bool = Field(default=False, description="send no credentials (only with a local endpoint)")
    max_attempts: int = Field(default=5, ge=1, le=20, description="tries per call (throttling, 5xx)")
    operation_timeout_seconds: float = Field(default=600, gt=0, le=3600)

    @field_validator("projects", "zones")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("an empty list: leave the key out instead")
            bad = [p for p in v if not re.match(r"^[a-z][-a-z0-9.:]{2,62}[a-z0-9]$", p)]
            if bad:
                raise ValueError(f"not a project or zone name: {bad[0]!r}")
        return v

    @model_validator(mode="after")
    def _anonymous(self) -> Settings:
        if self.anonymous and not self.endpoint:
            raise ValueError("anonymous = true needs an endpoint (it is for local fakes only)")
        return self
