"""`rollout start`: a registry version to an InferenceService in guarded steps, against the
Kubernetes fake (read back with kubectl), the real MLflow registry and Debian's real Prometheus.
Gates here are `promql:` gates over the steady DCGM figures, so each outcome is certain: one that
holds promotes (traffic all to the new revision, the alias moved), one that fails rolls back
(traffic 0, alias unchanged), one with no data pauses where it is (never a pass), and an abort
sends the traffic back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.commands import Context, build_registry
from cockpit.contracts import REGISTRY
from cockpit.hub import Hub
from cockpit.ops.journal import operations
from cockpit.ops.rollout_view import view
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.conftest import FIXED_NOW
from tests.kube_helpers import kget, kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.rollout_helpers import rollout_context

pytestmark = [kubectl_missing, prometheus_missing]

GOOD = "promql:count(DCGM_FI_DEV_GPU_UTIL) > 0"
BAD = "promql:count(DCGM_FI_DEV_GPU_UTIL) < 0"
NO_DATA = "promql:no_such_series_anywhere > 0"
LINE = ("rollout start reg/bge-large --version 2 --to gpu-prod/inference/whisper-large --steps 50,100 "
        "--interval 0.05s --promote-alias production --prometheus prom ")


@pytest.fixture
def ctx(kube: KubeFake, db: Path, tmp_path: Path, prom: PromServer) -> Iterator[Context]:
    with rollout_context(kube, db, tmp_path, prom.url) as c:
        yield c


def isvc(kube: KubeFake) -> dict[str, Any]:
    return kget(kube, "isvc", "whisper-large", "-n", "inference")  # type: ignore[no-any-return]


def production(ctx: Context) -> int | None:
    return ctx.hub.call("reg", REGISTRY, lambda b: b.model("bge-large")).alias("production")


def story(ctx: Context) -> list[str]:
    lines, _ = ctx.audit.lines()
    (op,) = operations(lines)
    return [m for _, m in op.steps]


def test_gates_that_hold_promote_and_move_the_alias(ctx: Context, kube: KubeFake) -> None:
    before = production(ctx)
    r = build_registry().run_line(LINE + f"--gate '{GOOD}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("ok", 0), r.error
    spec = isvc(kube)["spec"]["predictor"]
    assert spec["model"]["storageUri"] == "s3://models/bge-large/v2" and "canaryTrafficPercent" not in spec
    assert production(ctx) == 2 and before != 2
    steps = story(ctx)
    assert steps[0].startswith("gpu-prod/inference/whisper-large: 50% to ")
    assert any(s.startswith(f"at 50%: go: {GOOD}: ") for s in steps)
    assert "promoted: all traffic to" in steps[-2] and steps[-1].startswith("reg/bge-large: production -> v2")


def test_a_failing_gate_rolls_back_and_the_alias_stays(ctx: Context, kube: KubeFake) -> None:
    before = production(ctx)
    r = build_registry().run_line(LINE + f"--gate '{BAD}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("failed", 1)
    assert "rolled back at 50%" in str(r.error) and "FAILS" in str(r.error)
    assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 0  # all traffic back to the stable
    assert production(ctx) == before
    assert "rolled back: all traffic to" in story(ctx)[-1]


def test_no_data_pauses_and_never_promotes(ctx: Context, kube: KubeFake) -> None:
    r = build_registry().run_line(LINE + f"--gate '{GOOD}' --gate '{NO_DATA}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("failed", 1)
    assert "paused at 50%: no data in 3 readings in a row" in str(r.error)
    assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 50  # held where it was


def test_an_abort_sends_the_traffic_back(ctx: Context, kube: KubeFake) -> None:
    assert ctx.journal is not None
    results: list[Any] = []
    line = LINE.replace("--interval 0.05s", "--interval 30s") + f"--gate '{GOOD}'"
    t = threading.Thread(target=lambda: results.append(build_registry().run_line(line, ctx, yes=True)))
    seen = threading.Event()
    unsub = ctx.journal.subscribe(lambda op: seen.set() if op.steps else None)  # before it starts: no step missed
    t.start()
    assert seen.wait(60)
    unsub()
    (op,) = ctx.journal.running()
    assert ctx.journal.cancel(op.id)
    t.join(60)
    (r,) = results
    assert r.status == "cancelled" and "aborted" in str(r.error)
    assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 0


@pytest.mark.parametrize(("extra", "error"), [
    ("", "rollout start: give at least one --gate (e.g. --gate 'p95 < 800ms'); an unguarded rollout is model deploy"),
    ("--gate 'p95 < 1'", "--gate 'p95 < 1': a latency needs ms or s (e.g. 800ms)"),
    (f"--gate '{GOOD}' --steps 50,20", "--steps '50,20': rising percentages between 1 and 100, at least one "
                                       "canary step, ending at 100 (e.g. 10,25,50,100)"),
])
def test_bad_rollouts_are_refused_before_anything_moves(ctx: Context, kube: KubeFake, extra: str,
                                                        error: str) -> None:
    line = LINE.replace("--steps 50,100 ", "") if "--steps" in extra else LINE
    r = build_registry().run_line(line + extra, ctx, yes=True)
    assert (r.status, r.exit_code, r.error) == ("invalid", 2, error)
    assert "canaryTrafficPercent" not in isvc(kube)["spec"]["predictor"]


DLINE = ("rollout start reg/llama-70b-chat --version 7 --to gpu-prod/inference/llama-70b --steps 50,100 "
         "--interval 0.05s --promote-alias production --prometheus prom ")


def model_env(kube: KubeFake, name: str = "llama-70b") -> str:
    c = kget(kube, "deploy", name, "-n", "inference")["spec"]["template"]["spec"]["containers"][0]
    return str(next(e["value"] for e in c["env"] if e["name"] == "MODEL_URI"))


def canary_gone(kube: KubeFake) -> bool:
    import subprocess

    r = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "--context", "admin", "get", "deploy",
                        "llama-70b-canary", "-n", "inference"], capture_output=True, text=True, timeout=60)
    return r.returncode != 0 and "NotFound" in r.stderr


def test_a_deployment_canary_beside_the_stable_promotes(ctx: Context, kube: KubeFake) -> None:
    seen: list[dict[str, Any]] = []

    def look(op: Any) -> None:  # the canary as it stood at the first step, read with kubectl
        if op.steps and not seen:
            seen.append(kget(kube, "deploy", "llama-70b-canary", "-n", "inference"))

    assert ctx.journal is not None
    ctx.journal.subscribe(look)
    r = build_registry().run_line(DLINE + f"--gate '{GOOD}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("ok", 0), r.error
    (canary,) = seen
    assert canary["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    assert canary["spec"]["replicas"] == 2  # 50% beside the stable's 2 pods
    env = canary["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MODEL_URI", "value": "models:/llama-70b-chat/7"} in env
    assert model_env(kube) == "models:/llama-70b-chat/7" and canary_gone(kube)  # promoted: the stable rolled
    assert ctx.hub.call("reg", REGISTRY, lambda b: b.model("llama-70b-chat")).alias("production") == 7


def test_a_deployment_canary_that_fails_is_removed(ctx: Context, kube: KubeFake) -> None:
    before = ctx.hub.call("reg", REGISTRY, lambda b: b.model("llama-70b-chat")).alias("production")
    r = build_registry().run_line(DLINE + f"--gate '{BAD}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("failed", 1) and "rolled back at 50%" in str(r.error)
    assert model_env(kube) == "models:/llama-70b-chat/8" and canary_gone(kube)  # the stable never changed
    assert ctx.hub.call("reg", REGISTRY, lambda b: b.model("llama-70b-chat")).alias("production") == before


def test_the_audit_log_tells_a_rollout_as_a_story(ctx: Context, kube: KubeFake) -> None:
    r = build_registry().run_line(LINE + f"--gate '{BAD}'", ctx, yes=True)
    assert r.status == "failed"
    lines, _ = ctx.audit.lines()
    op_id = lines[0].id
    assert op_id is not None
    told = build_registry().run_line(f"audit --op {op_id[:6]}", ctx)
    assert told.status == "ok" and told.outcome.table is not None
    phases = [row[2] for row in told.outcome.table.rows]
    assert phases[:2] == ["intent", "applied"] and phases[-1] == "outcome" and phases.count("progress") >= 3
    said = [row[4] for row in told.outcome.table.rows]
    assert any(s.startswith("at 50%: roll back: ") for s in said)  # the reading that decided, on record
    assert "rolled back: all traffic to" in said[-2] and said[-1].startswith("gpu-prod/inference/whisper-large: "
                                                                             "rolled back at 50%")


def test_register_begins_the_chain(ctx: Context, kube: KubeFake, db: Path) -> None:
    """model register -> rollout start: a run's artifact becomes a version (read back with
    MlflowClient), which a guarded rollout then ships."""
    from mlflow import MlflowClient

    run_id = ctx.hub.call("reg", REGISTRY, lambda b: b.versions("bge-large"))[0].run_id
    r = build_registry().run_line(f"model register reg/bge-large --run {run_id} --path model --tag team=search",
                                  ctx, yes=True)
    assert r.status == "ok", r.error
    made = r.outcome.new["version"]
    v = MlflowClient(tracking_uri=f"sqlite:///{db}").get_model_version("bge-large", str(made))
    assert v.run_id == run_id and v.source.endswith("/model") and v.tags == {"team": "search"}
    shipped = build_registry().run_line(LINE.replace("--version 2", f"--version {made}") + f"--gate '{GOOD}'", ctx,
                                        yes=True)
    assert shipped.status == "ok", shipped.error
    assert isvc(kube)["spec"]["predictor"]["model"]["storageUri"] == v.source
    bad = build_registry().run_line("model register reg/bge-large --run nosuchrun0", ctx, yes=True)
    assert (bad.status, bad.error) == ("invalid", "--run: no run 'nosuchrun0' in reg")


def test_a_paused_rollout_can_be_aborted(ctx: Context, kube: KubeFake) -> None:
    r = build_registry().run_line(LINE + f"--gate '{NO_DATA}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("failed", 1)
    lines, _ = ctx.audit.lines()
    (op,) = operations(lines)
    assert op.state.value == "paused" and isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 50
    again = build_registry().run_line(LINE + f"--gate '{GOOD}'", ctx, yes=True)  # one rollout per target
    assert (again.status, again.exit_code) == ("refused", 3)
    assert f"has a rollout in the way: {op.id} (paused, traffic may still be split)" in str(again.error)
    aborted = build_registry().run_line(f"rollout abort {op.id}", ctx, yes=True)
    assert aborted.status == "ok", aborted.error
    assert isvc(kube)["spec"]["predictor"]["canaryTrafficPercent"] == 0
    (after,) = [o for o in operations(ctx.audit.lines()[0]) if o.id == op.id]  # its record says so too
    shown = view(after)
    assert shown is not None and shown.share == 0 and not shown.split and "after it ended paused" in after.steps[-1][1]


def test_rollout_refusals(ctx: Context, kube: KubeFake) -> None:
    r = build_registry().run_line(LINE + f"--gate '{GOOD}' --no-wait", ctx, yes=True)
    assert (r.status, r.exit_code) == ("invalid", 2) and "--no-wait would leave it at its first step" in str(r.error)
    r = build_registry().run_line(LINE.replace("--steps 50,100", "--steps 100") + f"--gate '{GOOD}'", ctx, yes=True)
    assert (r.status, r.exit_code) == ("invalid", 2) and "at least one canary step" in str(r.error)
    from dataclasses import replace as dc_replace

    ro = Hub(dc_replace(ctx.hub.config, sources=tuple(dc_replace(s, read_only=s.name == "reg")
                                                      for s in ctx.hub.config.sources)), now=lambda: FIXED_NOW)
    try:
        r = build_registry().run_line(LINE + f"--gate '{GOOD}'", Context(hub=ro, audit=ctx.audit), yes=True)
        assert (r.status, r.exit_code) == ("refused", 3) and "'reg' is read-only" in str(r.error)
        assert "canaryTrafficPercent" not in isvc(kube)["spec"]["predictor"]  # nothing moved
    finally:
        ro.close()
