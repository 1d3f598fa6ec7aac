"""A running rollout, from anywhere: pause and promote within the process (the journal), abort
from another process (a control line in the audit log that the running process hears), and abort
of a rollout whose process was killed (restored by the caller), read back with kubectl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cockpit.commands import Context, build_registry
from cockpit.ops.journal import OpState
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.conftest import ROOT
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.test_rollout import GOOD, canary_gone, ctx, isvc, model_env

pytestmark = [kubectl_missing, prometheus_missing]
__all__ = ["ctx"]

LINE = ("rollout start reg/bge-large --version 2 --to gpu-prod/inference/whisper-large --steps 25,50,100 "
        f"--interval 60s --prometheus prom --gate '{GOOD}'")
DLINE = ("rollout start reg/llama-70b-chat --version 7 --to gpu-prod/inference/llama-70b --steps 25,50,100 "
         f"--interval 60s --prometheus prom --gate '{GOOD}'")
KINDS = ["isvc", "deploy"]


def split(kube: KubeFake, kind: str) -> bool:
    """Whether the canary still takes traffic: the InferenceService's canary share, or the canary
    Deployment beside the stable (read back with kubectl)."""
    if kind == "isvc":
        return bool(isvc(kube)["spec"]["predictor"].get("canaryTrafficPercent"))
    return not canary_gone(kube)


def stable_kept(kube: KubeFake, kind: str) -> bool:
    """The stable still serves what it served before the rollout."""
    if kind == "isvc":
        return bool(isvc(kube)["spec"]["predictor"].get("canaryTrafficPercent") == 0)
    return model_env(kube) == "models:/llama-70b-chat/8"


def test_pause_then_promote_within_the_process(ctx: Context, kube: KubeFake) -> None:
    assert ctx.journal is not None
    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(build_registry().run_line(LINE, ctx, yes=True)))
    started, paused = threading.Event(), threading.Event()

    def heard(op: Any) -> None:
        if op.steps:
            started.set()
        if any(m.startswith("paused") for _, m in op.steps):
            paused.set()

    ctx.journal.subscribe(heard)  # before it starts: no step missed
    t.start()
    assert started.wait(60)
    (op,) = ctx.journal.running()
    r = build_registry().run_line(f"rollout pause {op.id}", ctx, yes=True)
    assert r.status == "ok" and r.outcome.text == f"{op.id}: pause: told"
    assert paused.wait(30)
    assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 25  # held at the first step
    second = build_registry().run_line(LINE.replace("--version 2", "--version 1"), ctx, yes=True)
    assert (second.status, second.exit_code) == ("refused", 3)  # one rollout per target, as Argo has it
    assert f"has a rollout in the way: {op.id} (it runs)" in str(second.error)
    rival = build_registry().run_line("isvc promote gpu-prod/inference/whisper-large", ctx, yes=True)
    assert (rival.status, rival.exit_code) == ("refused", 3) and "has a rollout in the way" in str(rival.error)
    assert build_registry().run_line("hpa set gpu-prod/inference/embedder --max 9", ctx, yes=True).status == "ok"
    assert build_registry().run_line(f"rollout promote {op.id}", ctx, yes=True).status == "ok"
    t.join(60)
    (done,) = results
    assert done.status == "ok", done.error
    assert "canaryTrafficPercent" not in isvc(kube)["spec"]["predictor"]
    story = [m for _, m in ctx.journal.get(op.id).steps]  # type: ignore[union-attr]
    assert "paused: no step moves until resume" in story
    assert any(m.startswith("promoted by a person at 25%") for m in story)
    assert not any(m.startswith("at 25%: go") for m in story)  # no gate was read while paused


def script_env(tmp_path: Path, kube: KubeFake, db: Path, prom: PromServer) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.gpu-prod]\nkind = "kubernetes"\n'
                      f'kubeconfig = "{kube.kubeconfig}"\ncontext = "admin"\n[sources.reg]\nkind = "mlflow"\n'
                      f'tracking_uri = "sqlite:///{db}"\n'
                      f'timeout_seconds = 60\n[sources.prom]\nkind = "prometheus"\nurl = "{prom.url}"\n')
    return config, {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
                    "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PYTHONPATH": str(ROOT)}


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "state" / "cockpit" / "audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def start_rollout(tmp_path: Path, config: Path, env: dict[str, str], line: str = LINE
                  ) -> tuple[subprocess.Popen[str], str]:
    """A rollout in its own process, once it applied its first step and began to watch."""
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "--config", str(config), "--yes", *_words(line)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # a bound for a broken build; we wait on the audit log, not a clock
    while not any(x["phase"] == "progress" for x in audit_lines(tmp_path)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the rollout never began to watch"
        time.sleep(0.05)
    return proc, next(x["id"] for x in audit_lines(tmp_path) if x["command"] == "rollout start")


def _words(line: str) -> list[str]:
    import shlex

    return shlex.split(line)


def cockpit(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", KINDS)
def test_abort_from_another_process(tmp_path: Path, kube: KubeFake, db: Path, prom: PromServer, kind: str) -> None:
    config, env = script_env(tmp_path, kube, db, prom)
    proc, op_id = start_rollout(tmp_path, config, env, LINE if kind == "isvc" else DLINE)
    assert split(kube, kind)
    try:
        r = cockpit(config, env, "--yes", "rollout", "abort", op_id[:8])
        assert r.returncode == 0, r.stderr
        assert "abort sent to the process running it" in r.stdout
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "aborted" in err
    assert not split(kube, kind) and stable_kept(kube, kind)
    (op,) = [o for o in json.loads(cockpit(config, env, "-o", "json", "op", "list").stdout)["data"]
             if o["id"] == op_id]
    assert op["state"] == "cancelled" and any(s["message"].startswith("abort asked by ") for s in op["steps"])


@pytest.mark.parametrize("kind", KINDS)
def test_abort_of_a_rollout_whose_process_was_killed(tmp_path: Path, kube: KubeFake, db: Path,
                                                     prom: PromServer, kind: str) -> None:
    config, env = script_env(tmp_path, kube, db, prom)
    proc, op_id = start_rollout(tmp_path, config, env, LINE if kind == "isvc" else DLINE)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert split(kube, kind)  # left at its first step
    if kind == "isvc":
        assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 25
    status = cockpit(config, env, "rollout", "status", op_id[:8])
    assert "unfinished" in status.stdout and "steps: 25% stopped, 50% next, 100% next" in status.stdout
    assert ("now: ready, canary 25%" if kind == "isvc" else "now: stable 2 of 2 ready, canary") in status.stdout
    rival = (["isvc", "canary", "gpu-prod/inference/whisper-large", "80"] if kind == "isvc" else
             ["deploy", "set-image", "gpu-prod/inference/llama-70b", "vllm/vllm-openai:v0.6.2"])
    held = cockpit(config, env, "--yes", *rival)  # no other change to what it serves while the rollout holds it
    assert held.returncode == 3 and f"has a rollout in the way: {op_id} (unfinished" in held.stderr, held
    r = cockpit(config, env, "--yes", "rollout", "abort", op_id[:8])
    assert r.returncode == 0, r.stderr
    assert ("canaryTrafficPercent 0, all traffic on the previous revision" if kind == "isvc"
            else "canary llama-70b-canary removed, all traffic on the stable") in r.stdout
    assert not split(kube, kind) and stable_kept(kube, kind)
    (op,) = [o for o in json.loads(cockpit(config, env, "-o", "json", "op", "list").stdout)["data"]
             if o["id"] == op_id]
    assert op["state"] == OpState.CANCELLED.value and "after its process ended" in op["error"]
