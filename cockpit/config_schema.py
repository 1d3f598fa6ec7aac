"""The config file's schema, in pydantic: loaded only when a file is parsed (see config.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cockpit.config import LIBVIRT_URI


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceCommon(Strict):
    kind: str
    read_only: bool = False
    timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    colour: Literal["red", "amber", "green", "blue", "magenta", "cyan"] | None = None
    label: str | None = Field(default=None, max_length=24)


class LibvirtSettings(SourceCommon):
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


SOURCE_KINDS: Mapping[str, type[SourceCommon]] = {"libvirt": LibvirtSettings}
"""Kinds this build knows; later backends add theirs here."""


class UiModel(Strict):
    theme: Literal["dark", "light", "high-contrast", "ansi"] = "dark"
    refresh_seconds: float = Field(default=10.0, ge=0, le=3600)


class AuditModel(Strict):
    path: str | None = None


class FileModel(Strict):
    ui: UiModel = UiModel()
    audit: AuditModel = AuditModel()
    keys: dict[str, str] = {}
    read_only: bool = False
    sources: dict[str, dict[str, Any]] = {}
