"""The MLflow registry through the real MlflowClient on a temporary sqlite registry: reads, promote
and rollback read back with MlflowClient, history that survives a restart, clear bad-input errors,
and the script mode in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import Context
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from tests.conftest import FIXED_NOW, ROOT, audit_entries


def hub_on(db: Path, tmp_path: Path) -> Hub:
    source = SourceConfig("reg", "mlflow", timeout_seconds=60, settings={"tracking_uri": f"sqlite:///{db}"})
    return Hub(Config(sources=(source,), audit_path=tmp_path / "audit.jsonl"), now=lambda: FIXED_NOW)


@pytest.fixture
def mctx(db: Path, tmp_path: Path) -> Iterator[Context]:
    h = hub_on(db, tmp_path)
    yield Context(hub=h, audit=AuditLog(h.config.audit_path), origin="script")
    h.close()


def client(db: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")


def test_models_versions_and_aliases(registry: Any, mctx: Context) -> None:
    r = registry.run_line("model list", mctx)
    assert r.status == "ok"
    by = {m["name"]: m for m in r.outcome.data}
    assert by["fraud-detector"]["aliases"] == {"production": 4, "staging": 5}
    assert by["llama-70b-chat"]["latest_version"] == 8
    show = registry.run_line("model show reg/llama-70b-chat", mctx)
    versions = show.outcome.data["versions"]
    assert [v["version"] for v in versions] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert versions[0]["aliases"] == ["production", "staging"] and isinstance(versions[0]["version"], int)
    assert "v8       production staging  READY" in show.outcome.text
    assert dict(versions[0]["run"]["metrics"]) == {"latency_p95_ms": 905.0, "mmlu": 0.794, "mt_bench": 8.41}
    assert "mmlu=0.794" in show.outcome.text


def test_promote_and_rollback_round_trip_read_back(registry: Any, mctx: Context, db: Path, tmp_path: Path) -> None:
    plan = registry.run_line("model promote fraud-detector 5 --alias production", mctx, dry_run=True)
    assert plan.status == "planned" and plan.outcome.text == \
        "would move alias production of reg/fraud-detector from v4 to v5"
    r = registry.run_line("model promote fraud-detector 5 --alias production", mctx, yes=True)
    assert r.status == "ok" and r.outcome.text == "reg/fraud-detector: production -> v5 (was v4)"
    c = client(db)
    assert c.get_registered_model("fraud-detector").aliases["production"] in (5, "5")
    history = json.loads(c.get_registered_model("fraud-detector").tags["cockpit.alias_history.production"])
    assert history[-1]["version"] == 5 and history[-1]["previous"] == 4
    assert audit_entries(mctx)[-1]["previous"] == {"alias": "production", "version": 4}

    # a new cockpit (a restart) rolls back from what the server kept
    mctx.hub.close()
    h2 = hub_on(db, tmp_path)
    ctx2 = Context(hub=h2, audit=AuditLog(h2.config.audit_path), origin="script")
    try:
        r = registry.run_line("model rollback fraud-detector --alias production", ctx2, yes=True)
        assert r.status == "ok" and r.outcome.text == "reg/fraud-detector: production -> v4 (was v5)"
        assert int(client(db).get_registered_model("fraud-detector").aliases["production"]) == 4
        hist = registry.run_line("model alias-history fraud-detector --alias production", ctx2)
        assert [(row[2], row[3]) for row in hist.outcome.table.rows] == [
            ("nothing", "v3"), ("v3", "v4"), ("v4", "v5"), ("v5", "v4")]
    finally:
        h2.close()


def test_promoting_the_holder_is_a_noop_and_tags_round_trip(registry: Any, mctx: Context, db: Path) -> None:
    r = registry.run_line("model promote fraud-detector 4 --alias production", mctx, yes=True)
    assert r.status == "ok" and r.outcome.text == "reg/fraud-detector: production already points at v4"
    assert audit_entries(mctx) == []
    r = registry.run_line("model tag fraud-detector owner=risk --version 5", mctx, yes=True)
    assert r.status == "ok"
    assert client(db).get_model_version("fraud-detector", "5").tags["owner"] == "risk"
    assert audit_entries(mctx)[-1]["previous"] == {"owner": None}


def test_compare_marks_differences(registry: Any, mctx: Context) -> None:
    r = registry.run_line("model compare llama-70b-chat 7 8", mctx)
    rows = {row[1]: row for row in r.outcome.table.rows}
    assert rows["lr"][2:] == ("2e-4", "1e-4", "*") and rows["base"][4] == ""
    assert rows["mmlu"][2:] == ("0.789", "0.794", "*")


@pytest.mark.parametrize(("line", "error"), [
    ("model show nope", "reg: model 'nope': not found"),
    ("model promote fraud-detector 9 --alias production", "reg: model 'fraud-detector' version 9: not found"),
    ("model promote fraud-detector 5 --alias latest",
     "--alias: 'latest' is not a usable alias (letters, digits, '_', '-'; not 'latest' or v<N>)"),
    ("model promote 'fraud detector' 5 --alias production",
     "model: 'fraud detector' is not a model name (letters, digits, '-', '_', '.')"),
    ("model promote fraud-detector five --alias production", "VERSION: 'five' is not a whole number"),
    ("model rollback bge-large --alias canary", "reg/bge-large: no alias 'canary' (aliases: production=v3 staging=v3)"),
    ("model rollback fraud-detector --alias staging",
     "reg/fraud-detector: no earlier holder of staging is recorded (the history tag starts at v5)"),
])
def test_bad_input_is_one_clear_line(registry: Any, mctx: Context, line: str, error: str) -> None:
    r = registry.run_line(line, mctx, yes=True)
    assert r.status in ("invalid", "failed") and r.error == error
    assert audit_entries(mctx) == []


def test_script_mode_promotes_with_yes_and_refuses_without(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.reg]\nkind = "mlflow"\ntracking_uri = "sqlite:///{db}"\ntimeout_seconds = 60\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
           "PYTHONPATH": str(ROOT)}

    def cockpit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                              text=True, env=env, timeout=120)

    r = cockpit("model", "promote", "bge-large", "2", "--alias", "staging")
    assert r.returncode == 3 and "add --yes" in r.stderr
    r = cockpit("-o", "json", "--yes", "model", "promote", "bge-large", "2", "--alias", "staging")
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["status"] == "ok" and line["data"]["aliases"] == {"production": 3, "staging": 2}
    assert int(client(db).get_registered_model("bge-large").aliases["staging"]) == 2
    assert "INFO" not in r.stderr  # mlflow's own logging never reaches the terminal
