"""The `[sources.NAME]` schema of a azure source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
    """Azure VMs in one or more subscriptions. Credentials come through DefaultAzureCredential
    (environment, managed identity, az login), or a bearer token named by `token_env`."""

    subscriptions: list[str] = Field(min_length=1, description="subscription ids")
    resource_groups: list[str] | None = Field(default=None, description="only these groups (default: all)")
    endpoint: str | None = Field(default=None, pattern=r"^https://[^\s]+$",
                                 description="the Resource Manager URL (sovereign clouds, a local fake)")
    ca_bundle: str | None = Field(default=None, description="a PEM file of CAs to trust for the endpoint")
    prices_url: str = Field(default="https://prices.azure.com/api/retail/prices", pattern=r"^https?://[^\s]+$",
                            description="the retail prices API `cost catalogue refresh` reads (no credentials)")
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                  description="an environment variable holding an access token")
    max_attempts: int = Field(default=5, ge=1, le=20, description="tries per call (throttling, 5xx)")
    operation_timeout_seconds: float = Field(default=900, gt=0, le=3600)

    @field_validator("subscriptions")
    @classmethod
    def _subscriptions(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if not re.match(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", s)]
        if bad:
            raise ValueError(f"not a subscription id: {bad[0]!r} (a GUID)")
        return v
