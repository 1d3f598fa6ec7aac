"""The `[sources.NAME]` schema of a libvirt source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from cockpit.providers.common_settings import SourceCommon

LIBVIRT_URI = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9]+)?://[^\s]*$")


class Settings(SourceCommon):
    """A libvirt host: any URI libvirt accepts (qemu:///system, qemu+ssh://user@host/system, test:///...)."""

    uri: str
    location: str | None = Field(default=None, description="shown as the host; defaults to the URI's host")
    poll_seconds: float = Field(default=10.0, ge=1, le=3600)

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not LIBVIRT_URI.match(v):
            raise ValueError("not a libvirt URI (expected driver[+transport]://[user@]host/path)")
        return v
