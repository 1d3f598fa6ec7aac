"""The `[sources.NAME]` schema of a aws source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
    """EC2 in one or more regions of one AWS account. Credentials come only through boto3's own
    chain (environment, profile, SSO, instance role), never from this file."""

    profile: str | None = Field(default=None, description="default: the AWS config's default profile")
    regions: list[str] | None = Field(default=None, description="default: the profile's region")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$",
                                     description="an EC2-compatible endpoint (moto, a VPC endpoint)")
    price_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$",
                                           description="where `cost catalogue refresh` asks the Price List API and "
                                                       "the spot price history (a local fake); default: AWS's own")
    cost_endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$",
                                          description="where `cost spend` asks Cost Explorer (moto); default: "
                                                      "AWS's own")
    max_attempts: int = Field(default=5, ge=1, le=20, description="tries per call (throttling, 5xx)")

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v:
                raise ValueError("an empty list: leave the key out instead")
            bad = [r for r in v if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", r)]
            if bad:
                raise ValueError(f"not an AWS region: {bad[0]!r} (e.g. us-east-1)")
        return v
