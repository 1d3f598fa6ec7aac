"""promote -> deploy -> watch -> roll back: a registry version reaches a Deployment and an
InferenceService in the Kubernetes fake, read back with kubectl and MlflowClient, every step audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import Context
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.sandbox import kube_source
from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import FIXED_NOW, audit_entries
from tests.kube_helpers import kget, kubectl_missing

pytestmark = kubectl_missing


@pytest.fixture
def ctx(kube: KubeFake, db: Path, tmp_path: Path) -> Iterator[Context]:
    sources = (kube_source("gpu-prod", kube.kubeconfig),
               SourceConfig("reg", "mlflow", timeout_seconds=60, settings={"tracking_uri": f"sqlite:///{db}"}))
    h = Hub(Config(sources=sources, audit_path=tmp_path / "audit.jsonl"), now=lambda: FIXED_NOW)
    yield Context(hub=h, audit=AuditLog(h.config.audit_path), origin="script")
    h.close()


def ok(registry: Any, ctx: Context, line: str) -> Any:
    r = registry.run_line(line, ctx, yes=True)
    assert r.status == "ok", (line, r.error)
    return r


def model_env(kube: KubeFake) -> str:
    c = kget(kube, "deploy", "llama-70b", "-n", "inference")["spec"]["template"]["spec"]["containers"][0]
    return str(next(e["value"] for e in c["env"] if e["name"] == "MODEL_URI"))


def test_promote_deploy_watch_and_roll_back(registry: Any, ctx: Context, kube: KubeFake) -> None:
    ok(registry, ctx, "model promote llama-70b-chat 7 --alias staging")
    plan = registry.run_line("model deploy llama-70b-chat --alias staging --to gpu-prod/inference/llama-70b", ctx,
                             dry_run=True)
    assert plan.outcome.text == ("would deploy llama-70b-chat staging = v7 to gpu-prod/inference/llama-70b: "
                                 "llama-70b env MODEL_URI models:/llama-70b-chat/8 -> models:/llama-70b-chat/7")
    r = ok(registry, ctx, "model deploy llama-70b-chat --alias staging --to gpu-prod/inference/llama-70b")
    assert r.outcome.data["rollout"] == "complete" and r.outcome.data["model"] == "models:/llama-70b-chat/7"
    assert model_env(kube) == "models:/llama-70b-chat/7"
    again = ok(registry, ctx, "model deploy llama-70b-chat --version 7 --to gpu-prod/inference/llama-70b")
    assert again.outcome.text == "gpu-prod/inference/llama-70b already serves models:/llama-70b-chat/7"
    ok(registry, ctx, "deploy rollback gpu-prod/inference/llama-70b")  # the watch says it misbehaves: back
    assert model_env(kube) == "models:/llama-70b-chat/8"
    entries = audit_entries(ctx)
    assert [e["command"] for e in entries] == ["model promote", "model deploy", "deploy rollback"]
    assert entries[1]["previous"] == {"model": "models:/llama-70b-chat/8", "env": "llama-70b:MODEL_URI"}
    assert entries[1]["new"]["rollout"] == "complete"


def test_deploy_to_an_inference_service_rolls_a_revision(registry: Any, ctx: Context, kube: KubeFake) -> None:
    r = registry.run_line("model deploy bge-large --version 2 --to gpu-prod/inference/whisper-large", ctx, yes=True)
    assert r.status == "ok"
    isvc = kget(kube, "isvc", "whisper-large", "-n", "inference")
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "s3://models/bge-large/v2"
    assert isvc["status"]["components"]["predictor"]["latestReadyRevision"] == "whisper-large-predictor-00004"


@pytest.mark.parametrize(("line", "error"), [
    ("model deploy llama-70b-chat --to gpu-prod/inference/llama-70b", "model deploy: give --alias ALIAS or "
                                                                      "--version N (one of them)"),
    ("model deploy llama-70b-chat --alias canary --to gpu-prod/inference/llama-70b",
     "reg/llama-70b-chat: no alias 'canary'"),
    ("model deploy llama-70b-chat --version 7 --to gpu-prod/inference/nope",
     "gpu-prod: no Deployment or InferenceService inference/nope"),
    ("model deploy llama-70b-chat --version 7 --to gpu-prod/inference/router",
     "model deploy: gpu-prod/inference/router has no model env var (MODEL_URI, MLFLOW_MODEL_URI, ...): name one "
     "with --env CONTAINER:NAME"),
])
def test_bad_deploys_say_why(registry: Any, ctx: Context, line: str, error: str) -> None:
    r = registry.run_line(line, ctx, yes=True)
    assert r.status in ("invalid", "failed") and r.error == error


def test_deploy_by_image_tag(registry: Any, ctx: Context, kube: KubeFake) -> None:
    r = registry.run_line("model deploy fraud-detector --alias staging --to gpu-prod/inference/router "
                          "--image-tag 'v{version}'", ctx, yes=True)
    assert r.status == "ok", r.error
    image = kget(kube, "deploy", "router", "-n", "inference")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/example/router:v5"
    assert audit_entries(ctx)[-1]["previous"] == {"image": "ghcr.io/example/router:2.1.0"}
