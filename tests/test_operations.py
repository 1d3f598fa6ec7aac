"""Changes as operations (cockpit.ops): applied, then watched, each phase in the audit log under one
id; `op list`/`op show` read them back in another process; a process killed while it follows a
rollout leaves an operation the next start reports as unfinished, with the change itself standing
(read back with kubectl); a watch can be cancelled (the change goes on) and `--no-wait` skips it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.audit import AuditLog
from cockpit.commands import Context
from cockpit.commands.registry import CommandSpec, Outcome, Plan, Registry
from cockpit.contracts import Cancelled
from cockpit.ops.journal import Journal, OpState, Watch, operations
from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import FIXED_NOW, ROOT
from tests.kube_helpers import kget, kubectl_missing


def config(tmp_path: Path, kube: KubeFake) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f'[sources.lab]\nkind = "kubernetes"\nkubeconfig = "{kube.kubeconfig}"\ncontext = "admin"\n')
    return p


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PYTHONPATH": str(ROOT)}


def cockpit(tmp_path: Path, kube: KubeFake, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config(tmp_path, kube)), *args],
                          capture_output=True, text=True, env=env(tmp_path), timeout=120)


def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "cockpit" / "audit.jsonl"


def phases(tmp_path: Path) -> list[tuple[str, str]]:
    return [(d["phase"], d["id"]) for d in map(json.loads, audit_path(tmp_path).read_text().splitlines())]


@kubectl_missing
def test_a_change_is_an_operation_with_its_story(tmp_path: Path, kube: KubeFake) -> None:
    kube.controller.ready_delay = 0.5  # the new pods take a moment: the watch sees the rollout move
    r = cockpit(tmp_path, kube, "--yes", "deploy", "scale", "inference/router", "4")
    assert r.returncode == 0, r.stderr
    seen = phases(tmp_path)
    op_id = seen[0][1]
    assert {i for _, i in seen} == {op_id}
    assert [p for p, _ in seen][:2] == ["intent", "applied"] and seen[-1][0] == "outcome"
    assert "progress" in [p for p, _ in seen]  # the rollout's steps, as the watch saw them

    listed = cockpit(tmp_path, kube, "-o", "json", "op", "list")
    assert listed.returncode == 0, listed.stderr
    (op,) = json.loads(listed.stdout)["data"]
    assert (op["id"], op["state"], op["command"], op["target"]) == (op_id, "ok", "deploy scale", "lab/inference/router")
    assert op["applied"] and op["ended"] and op["steps"] and op["previous"] == {"replicas": 2}
    shown = cockpit(tmp_path, kube, "op", "show", op_id[:6])
    assert shown.returncode == 0 and f"Operation: {op_id}" in shown.stdout and "State:     ok" in shown.stdout
    assert "lab/inference/router: " in shown.stdout.split("Steps:")[1]

    # --no-wait: applied, and not followed: no progress lines for that one
    r = cockpit(tmp_path, kube, "--yes", "deploy", "scale", "inference/router", "2", "--no-wait")
    assert r.returncode == 0, r.stderr
    second = [p for p, i in phases(tmp_path) if i != op_id]
    assert second == ["intent", "applied", "outcome"]


@kubectl_missing
def test_a_process_killed_mid_watch_leaves_an_unfinished_operation(tmp_path: Path, kube: KubeFake) -> None:
    kube.controller.ready_delay = 600  # the rollout will not finish while we watch
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "--config", str(config(tmp_path, kube)), "--yes",
                             "deploy", "scale", "inference/router", "4", "--timeout", "10m"],
                            env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120  # a bound for a broken build, not a budget: we wait on the file
        while not (audit_path(tmp_path).exists() and "applied" in [p for p, _ in phases(tmp_path)]):
            assert proc.poll() is None and time.monotonic() < deadline, "never applied"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # as a lost session's kill -9, or the OOM killer, would
        proc.wait(timeout=30)
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 4  # the change stands

    r = cockpit(tmp_path, kube, "op", "list")
    assert r.returncode == 0, r.stderr
    (said,) = [line for line in r.stdout.splitlines() if line.startswith("did not finish: ")]
    assert said.startswith("did not finish: deploy scale lab/inference/router, applied at ")
    # and where the target stands now, read back from the cluster: the new pods are not ready yet
    assert ", outcome unknown; now: rollout " in said and "of 4 ready, revision " in said, said
    (op,) = json.loads(cockpit(tmp_path, kube, "-o", "json", "op", "list").stdout)["data"]
    assert op["state"] == "unfinished" and op["applied"] and op["ended"] is None
    shown = cockpit(tmp_path, kube, "op", "show", op["id"])
    assert "Outcome:   unknown: the process that ran it ended first; now: rollout " in shown.stdout
    wait = cockpit(tmp_path, kube, "op", "wait", op["id"], "--timeout", "1s")
    assert wait.returncode == 1 and "not ended after 1s" in wait.stderr
    cancel = cockpit(tmp_path, kube, "op", "cancel", op["id"])
    assert cancel.returncode == 2 and "is not run by this cockpit" in cancel.stderr


def test_a_cancelled_watch_ends_the_operation_and_the_change_stands(ctx: Context) -> None:
    """Cancel stops following, not the change: the outcome is `cancelled`, in the audit log too."""
    journal = Journal(lambda: FIXED_NOW)
    live = Context(hub=ctx.hub, audit=ctx.audit, origin="ui", journal=journal)
    watching = threading.Event()
    applied: list[str] = []

    def planner(c: Context, args: Any) -> Plan:
        def watch(w: Watch) -> Outcome:
            w.progress("rack-a/thing: 1 of 4 ready")
            watching.set()
            while not w.cancelled():
                time.sleep(0.01)
            raise Cancelled("rack-a/thing: stopped following (it goes on)")

        def run() -> Outcome:
            applied.append("scaled")
            return Outcome(new={"replicas": 4}, watch=watch)

        return Plan("thing scale", "scale rack-a/thing to 4", run, mutating=True, source="rack-a",
                    target="rack-a/thing", previous={"replicas": 2}, new={"replicas": 4})

    reg = Registry()
    reg.add(CommandSpec(("thing", "scale"), "scale a thing", planner, mutating=True))
    results: list[Any] = []
    t = threading.Thread(target=lambda: results.append(reg.run_line("thing scale --yes", live)))
    t.start()
    assert watching.wait(30)
    (op,) = journal.running()
    assert op.steps[-1][1] == "rack-a/thing: 1 of 4 ready" and op.applied is not None
    assert journal.cancel(op.id)
    t.join(30)
    (r,) = results
    assert (r.status, r.exit_code, applied) == ("cancelled", 1, ["scaled"])
    assert journal.get(op.id).state is OpState.CANCELLED  # type: ignore[union-attr]
    lines, _ = AuditLog(ctx.audit.path).lines()
    (read,) = operations(lines)
    assert (read.state, read.steps[0][1], read.new) == (OpState.CANCELLED, "rack-a/thing: 1 of 4 ready",
                                                        {"replicas": 4})
    assert not journal.cancel(op.id)  # ended: nothing to cancel


def test_describe_says_what_a_crash_left() -> None:
    from cockpit.ops.journal import Operation

    at = datetime.fromisoformat("2026-11-23T14:02:10+00:00")
    op = Operation("a1b2c3d4e5f6", "deploy rollback", "gpu-prod/inference/llama-70b", "gpu-prod", "script", "ops",
                   at, OpState.UNFINISHED, applied=at)
    assert op.describe() == (f"deploy rollback gpu-prod/inference/llama-70b, applied at "
                             f"{at.astimezone():%H:%M:%S}, outcome unknown")
