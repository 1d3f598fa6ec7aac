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


class KubernetesSettings(SourceCommon):
    """One or more contexts of a kubeconfig. Several contexts (or "all") become one source per
    context, named SOURCE-CONTEXT, so each cluster has its own health and read-only switch."""

    kubeconfig: str | None = Field(default=None, description="default: $KUBECONFIG, else ~/.kube/config")
    context: str | None = Field(default=None, description="default: the kubeconfig's current context")
    contexts: list[str] | Literal["all"] | None = None
    namespaces: list[str] | None = Field(default=None, description="default: all namespaces")
    request_timeout: float = Field(default=15.0, gt=0, le=600)

    @field_validator("namespaces", "contexts")
    @classmethod
    def _names(cls, v: list[str] | str | None) -> list[str] | str | None:
        if isinstance(v, list):
            if not v:
                raise ValueError("an empty list: leave the key out instead")
            bad = [n for n in v if not n or len(n) > 253]
            if bad:
                raise ValueError(f"not a valid name: {bad[0]!r}")
        return v


class MlflowSettings(SourceCommon):
    """An MLflow model registry: any URI MLflow accepts (https://mlflow.internal, sqlite:///path.db,
    databricks). Credentials come from MLflow's own environment variables, never from here."""

    tracking_uri: str = Field(min_length=1)
    registry_uri: str | None = Field(default=None, description="default: the tracking URI")


class LocalSettings(SourceCommon):
    """The machine cockpit runs on (psutil, NVML). Present by default as the source `local`;
    `local_machine = false` at the top of the file leaves it out."""


SOURCE_KINDS: Mapping[str, type[SourceCommon]] = {"libvirt": LibvirtSettings, "kubernetes": KubernetesSettings,
                                                  "mlflow": MlflowSettings, "local": LocalSettings}
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
    local_machine: bool = True
    sources: dict[str, dict[str, Any]] = {}
