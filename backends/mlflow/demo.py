"""The demo registry: a sqlite MLflow registry with models the demo cluster serves (an LLM chat
model, a text embedder, a reranker, the Mistral its InferenceService serves) and a fraud detector,
each with runs, metrics, params, aliases `production`/`staging` and some alias history. Written
through the real MlflowClient.

    python -m backends.mlflow.demo /path/to/registry.db

(`--demo` runs it in a subprocess on first use of the registry source, so the UI never waits on
mlflow's import.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.model_registry import HISTORY_TAG

MODELS: list[dict[str, Any]] = [
    {"name": "llama-70b-chat", "description": "Llama 3 70B chat, LoRA-tuned on the support corpus",
     "tags": {"team": "assistant", "task": "chat"}, "uri": "s3://models/llama-70b-chat/v{v}",
     "versions": {6: {"mmlu": 0.781, "mt_bench": 8.21, "latency_p95_ms": 910.0},
                  7: {"mmlu": 0.789, "mt_bench": 8.34, "latency_p95_ms": 880.0},
                  8: {"mmlu": 0.794, "mt_bench": 8.41, "latency_p95_ms": 905.0}},
     "params": {"base": "llama-3-70b", "lora_rank": "16", "lr": "2e-4"},
     "aliases": {"production": [(6, None), (7, 6), (8, 7)], "staging": [(8, None)]}},
    {"name": "bge-large", "description": "Text embedder (BGE large, en)", "tags": {"team": "search"},
     "uri": "s3://models/bge-large/v{v}",
     "versions": {1: {"ndcg_at_10": 0.532}, 2: {"ndcg_at_10": 0.541}, 3: {"ndcg_at_10": 0.547}},
     "params": {"dim": "1024", "max_len": "512"},
     "aliases": {"production": [(2, None), (3, 2)], "staging": [(3, None)]}},
    {"name": "bge-reranker", "description": "Cross-encoder reranker for search", "tags": {"team": "search"},
     "uri": "s3://models/bge-reranker/v{v}", "versions": {1: {"mrr": 0.61}, 2: {"mrr": 0.64}},
     "params": {"max_len": "512"}, "aliases": {"production": [(1, None), (2, 1)]}},
    {"name": "mistral-7b-instruct", "description": "Mistral 7B instruct, served by KServe (InferenceService "
     "mistral-7b)", "tags": {"team": "assistant", "task": "chat"}, "uri": "s3://models/mistral-7b-instruct/v{v}",
     # v3 is what the InferenceService serves; v4 is healthy, v5 slow and failing (the demo's
     # Prometheus serves it so: cockpit.sandbox.canaries.QUALITY)
     "versions": {3: {"mmlu": 0.624, "mt_bench": 7.61, "latency_p95_ms": 940.0},
                  4: {"mmlu": 0.631, "mt_bench": 7.72, "latency_p95_ms": 930.0},
                  5: {"mmlu": 0.638, "mt_bench": 7.80, "latency_p95_ms": 2750.0}},
     "params": {"base": "mistral-7b-v0.3", "lora_rank": "8", "lr": "1e-4"},
     "aliases": {"production": [(2, None), (3, 2)], "staging": [(5, None)]}},
    {"name": "fraud-detector", "description": "Card fraud classifier (gradient boosting)",
     "tags": {"team": "risk", "framework": "xgboost"}, "uri": "s3://models/fraud-detector/v{v}",
     "versions": {1: {"auc": 0.912, "recall_at_1pct_fpr": 0.41}, 2: {"auc": 0.921, "recall_at_1pct_fpr": 0.44},
                  3: {"auc": 0.934, "recall_at_1pct_fpr": 0.47}, 4: {"auc": 0.941, "recall_at_1pct_fpr": 0.49},
                  5: {"auc": 0.947, "recall_at_1pct_fpr": 0.52}},
     "params": {"max_depth": "8", "n_estimators": "400"},
     "aliases": {"production": [(3, None), (4, 3)], "staging": [(5, None)]}},
]


def backdate(db: Path, now: datetime) -> None:
    """Spread creation times over the past weeks (a version every few days), so the demo reads
    like a registry in use, and a test with a fixed clock sees the same ages every day."""
    with sqlite3.connect(db) as con:
        for spec in MODELS:
            top = max(spec["versions"])
            for v in range(1, top + 1):
                at = int((now - timedelta(days=3 * (top - v) + 1, hours=v)).timestamp() * 1000)
                con.execute("UPDATE model_versions SET creation_time = ?, last_updated_time = ?, user_id = ? "
                            "WHERE name = ? AND version = ?", (at, at, "ana" if v % 2 else "li", spec["name"], v))
            first = int((now - timedelta(days=3 * top + 2)).timestamp() * 1000)
            last = int((now - timedelta(hours=20)).timestamp() * 1000)
            con.execute("UPDATE registered_models SET creation_time = ?, last_updated_time = ? WHERE name = ?",
                        (first, last, spec["name"]))


def seed(uri: str, artifacts: Path) -> None:
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("cockpit-demo", artifact_location=str(artifacts))
    for spec in MODELS:
        name = spec["name"]
        client.create_registered_model(name, tags=spec["tags"], description=spec["description"])
        versions: dict[int, dict[str, float]] = spec["versions"]
        first = min(versions)
        for v in range(1, max(versions) + 1):  # the registry numbers versions from 1
            metrics = versions.get(v) or {k: round(x * (0.97 - 0.01 * (first - v)), 4)
                                          for k, x in versions[first].items()}
            run = client.create_run(experiment, run_name=f"{name}-v{v}")
            run_id = run.info.run_id
            for key, value in metrics.items():
                client.log_metric(run_id, key, value)
            for key, value in spec["params"].items():
                client.log_param(run_id, key, value if key != "lr" or v != 8 else "1e-4")
            client.set_terminated(run_id)
            created = client.create_model_version(name, spec["uri"].format(v=v), run_id=run_id,
                                                  tags={"commit": hashlib.sha1(f"{name}{v}".encode()).hexdigest()[:7]})
            assert int(created.version) > 0
        for alias, moves in spec["aliases"].items():
            client.set_registered_model_alias(name, alias, str(moves[-1][0]))
            history = [{"version": to, "previous": prev, "at": f"2026-11-{10 + i * 4:02d}T09:00:00Z", "by": "ana"}
                       for i, (to, prev) in enumerate(moves)]
            client.set_registered_model_tag(name, HISTORY_TAG + alias, json.dumps(history, separators=(",", ":")))


def main() -> None:
    """`DB [--cache DIR]`: with a cache, the seeded file is made once per mlflow version and copied
    afterwards (seeding costs seconds of CPU: mlflow's import and schema migrations)."""
    db = Path(sys.argv[1])
    cache = Path(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--cache" else None
    if cache is None:
        seed(f"sqlite:///{db}", db.parent / "artifacts")
    else:
        from importlib.metadata import version

        # named by what it holds too: a cached file from before a model was added must not be used
        models = hashlib.sha256(json.dumps(MODELS, sort_keys=True, default=str).encode()).hexdigest()[:8]
        template = cache / f"demo-registry-mlflow-{version('mlflow-skinny')}-{models}.db"
        if not template.exists():
            cache.mkdir(parents=True, exist_ok=True)
            # one partial file per process: demos started at once each seed their own and the last
            # rename wins (a shared name let one process delete the file another was migrating)
            partial = template.with_suffix(f".{os.getpid()}.partial")
            try:
                seed(f"sqlite:///{partial}", db.parent / "artifacts")
                partial.replace(template)
            finally:
                partial.unlink(missing_ok=True)
        shutil.copyfile(template, db)
    backdate(db, datetime.now(UTC))


if __name__ == "__main__":
    main()
