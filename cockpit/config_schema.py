"""The config file's schema, in pydantic: loaded only when a file is parsed (see config.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class AwsSettings(SourceCommon):
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


class GcpSettings(SourceCommon):
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
    def _anonymous(self) -> GcpSettings:
        if self.anonymous and not self.endpoint:
            raise ValueError("anonymous = true needs an endpoint (it is for local fakes only)")
        return self


class AzureSettings(SourceCommon):
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


class PanelModel(Strict):
    """A user panel: any PromQL, with the unit it reads in and thresholds that colour it."""

    title: str = Field(min_length=1, max_length=40)
    query: str = Field(min_length=1)
    unit: Literal["%", "MiB", "W", "C", "req/s", "s", "count", ""] = ""
    legend: list[str] | None = Field(default=None, description="labels that name a series (default: all)")
    warn: float | None = None
    crit: float | None = None
    lower_is_worse: bool = False


class PrometheusSettings(SourceCommon):
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
    def _one_auth(self) -> PrometheusSettings:
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


class LocalSettings(SourceCommon):
    """The machine cockpit runs on (psutil, NVML). Present by default as the source `local`;
    `local_machine = false` at the top of the file leaves it out."""


SOURCE_KINDS: Mapping[str, type[SourceCommon]] = {"libvirt": LibvirtSettings, "kubernetes": KubernetesSettings,
                                                  "mlflow": MlflowSettings, "local": LocalSettings,
                                                  "prometheus": PrometheusSettings, "aws": AwsSettings,
                                                  "gcp": GcpSettings, "azure": AzureSettings}
"""Kinds this build knows; later backends add theirs here."""


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
