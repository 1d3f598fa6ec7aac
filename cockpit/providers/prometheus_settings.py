"""The `[sources.NAME]` schema of a prometheus source, with its user panels (pydantic, imported only when a
config file is parsed)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cockpit.providers.common_settings import SourceCommon, Strict


class PanelModel(Strict):
    """A user panel: any PromQL, with the unit it reads in and thresholds that colour it."""

    title: str = Field(min_length=1, max_length=40)
    query: str = Field(min_length=1)
    unit: Literal["%", "MiB", "W", "C", "req/s", "s", "count", ""] = ""
    legend: list[str] | None = Field(default=None, description="labels that name a series (default: all)")
    warn: float | None = None
    crit: float | None = None
    lower_is_worse: bool = False


class Settings(SourceCommon):
    """A Prometheus (or anything speaking its HTTP API: Thanos, Mimir, VictoriaMetrics). Credentials
    are basic auth or a bearer token, given here or, better, named by an environment variable or a
    file; they are sent, never shown."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    bearer_token: str | None = None
    bearer_token_env: str | None = None
    bearer_token_file: str | None = None
    verify_tls: bool | str = Field(default=True, description="false, or a CA bundle path")
    query_timeout: float = Field(default=10.0, gt=0, le=300)
    window: str = Field(default="1h", pattern=r"^\d+[smhdw]$")
    step: str | None = Field(default=None, pattern=r"^\d+[smhd]$")
    node_label: str = "Hostname"
    cluster_label: str = "cluster"
    cluster: str | None = Field(default=None, description="the cockpit kubernetes source this Prometheus measures")
    requests_metric: str = "http_requests_total"
    latency_metric: str = "http_request_duration_seconds"
    error_selector: str = 'code=~"5.."'
    workload_label: str | None = Field(default=None, description="default: derived from the pod label")
    rate_window: str = Field(default="2m", pattern=r"^\d+[smh]$")
    panels: list[PanelModel] = []

    @model_validator(mode="after")
    def _one_auth(self) -> Settings:
        basic = self.username is not None or self.password is not None or self.password_env is not None
        bearer = [k for k in ("bearer_token", "bearer_token_env", "bearer_token_file") if getattr(self, k)]
        if basic and bearer:
            raise ValueError(f"give basic auth (username, password) or {bearer[0]}, not both")
        if len(bearer) > 1:
            raise ValueError(f"give one of {', '.join(bearer)}")
        if (self.password or self.password_env) and not self.username:
            raise ValueError("a password needs a username")
        if self.password and self.password_env:
            raise ValueError("give password or password_env, not both")
        return self
