"""Where a registry version is served: the join of a model's versions with what the clusters run now.

It reads the running workloads, never the history of our own commands: a Deployment serves the
model its pod template names (env var, args or annotation, as the Kubernetes backend reads it into
`Deployment.model`: `models:/NAME/7`, `models:/NAME@production`, or the version's artifact URI),
and a KServe InferenceService the version whose artifact its predictor's storageUri is. So after a
`deploy rollback` to a template that names `models:/llama-70b-chat/7`, v7 is served there, whatever
alias points at it; a change made with kubectl shows the same way. The Models screen and any other
reader call this after every refresh, on the inventory it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cockpit.model_kube import Deployment, InferenceService
from cockpit.model_registry import ModelVersion, RegisteredModel

SCHEME = "models:/"


@dataclass(frozen=True, slots=True)
class Served:
    """One workload serving one version of a model."""

    workload: str
    """`cluster/namespace/name`."""
    kind: str
    """`Deployment` or `InferenceService`."""
    version: int
    reference: str
    """The model as the workload names it (`models:/x@production`, `s3://models/x/v3`)."""
    note: str
    """How it serves: `2/2` ready replicas, `isvc`, `isvc, 10% of traffic` (a canary)."""

    @property
    def label(self) -> str:
        return f"{self.workload} ({self.note})"


def artifact_index(versions: Iterable[ModelVersion]) -> dict[str, int]:
    """A version's artifact location -> its number: how a storageUri names a version."""
    return {_norm(v.source_uri): v.version for v in versions if v.source_uri}


def version_of(reference: str, model: RegisteredModel, artifacts: Mapping[str, int]) -> int | None:
    """The version of `model` a workload's reference names, or None when it names another model
    (or a stage, which MLflow deprecated): `models:/NAME/7`, `models:/NAME@ALIAS` (its version
    now), `models:/NAME/latest`, or a version's artifact URI."""
    ref = reference.strip()
    if not ref:
        return None
    if ref.startswith(SCHEME):
        rest = ref[len(SCHEME):].rstrip("/")
        if "@" in rest:
            name, _, alias = rest.partition("@")
            return model.alias(alias) if name == model.name else None
        name, _, version = rest.rpartition("/")
        if name != model.name:
            return None
        if version.isdigit():
            return int(version)
        return model.latest_version if version == "latest" else None
    return artifacts.get(_norm(ref))


def serving(model: RegisteredModel, deployments: Iterable[Deployment], services: Iterable[InferenceService],
            artifacts: Mapping[str, int] | None = None) -> list[Served]:
    """Every workload that serves a version of `model` now, by workload. `artifacts` (from
    `artifact_index`) resolves artifact URIs; without it only `models:/` references are known."""
    known = artifacts or {}
    out = []
    for d in deployments:
        v = version_of(d.model, model, known)
        if v is not None:
            out.append(Served(d.ref, "Deployment", v, d.model, f"{d.ready}/{d.replicas}"))
    for i in services:
        v = version_of(i.storage_uri, model, known)
        if v is not None:
            out.append(Served(i.ref, "InferenceService", v, i.storage_uri, _isvc_note(i)))
    return sorted(out, key=lambda s: (s.workload, s.version))


def _isvc_note(i: InferenceService) -> str:
    """`isvc`, or `isvc, 10% of traffic` while the latest revision (the storageUri's) is a canary."""
    share = next((t.percent for t in i.traffic if t.latest), None)
    if share is None and i.canary_percent is not None and i.previous_revision:
        share = i.canary_percent
    return "isvc" if share is None or share >= 100 else f"isvc, {share}% of traffic"


def _norm(uri: str) -> str:
    return uri.strip().rstrip("/")
