"""The `[sources.NAME]` schema of a kubernetes source (pydantic, imported only when a config file is parsed)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cockpit.providers.common_settings import SourceCommon


class Settings(SourceCommon):
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
