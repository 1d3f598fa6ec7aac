"""Issue 16: the Audit screen's CHANGE (and `cockpit audit`'s) says previous -> new for every kind of
change, read back from the audit file that real commands on the demo wrote: `schedulable → cordoned`,
`schedulable, 2 pods → cordoned, 0 pods (2 evicted)`, a canary's traffic split by revision, a
rollback's image and model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog, change_text
from screens.audit_view import AuditScreen
from screens.widgets.virtual_table import VirtualTable
from tests.ui_helpers import loaded, make_app

ROOT = Path(__file__).resolve().parent.parent
SNAP_AUDIT = Path("/tmp/cockpit-snapshots-audit-change/audit.jsonl")

# the rollback runs before the cordon and the drain: after them the demo cluster has no room left for
# llama-70b's surge replica, and the rollout would wait out its 300 s as a real one would
SCRIPT = """\
vm stop rack-a/login-01
deploy rollback gpu-prod/inference/llama-70b
node cordon gpu-prod/l4-01
node drain gpu-prod/cpu-01 --timeout 60s
deploy scale gpu-prod/inference/router 3 --no-wait
isvc canary gpu-prod/inference/whisper-large 20
isvc promote gpu-prod/inference/whisper-large
model promote registry/fraud-detector 5 --alias production
"""


@pytest.mark.timeout(600)
def test_every_change_on_the_demo_reads_back_as_previous_to_new(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "--demo", "--yes", "--script", "-"], input=SCRIPT,
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    entries, bad = AuditLog(tmp_path / "state" / "cockpit" / "demo-audit.jsonl").read()
    assert bad == 0
    said = {e.command: change_text(e.previous, e.new) for e in entries}
    assert said["vm stop"] == "running → stopped"
    assert said["node cordon"] == "schedulable → cordoned"
    assert said["node drain"] == "schedulable, 2 pods → cordoned, 0 pods (2 evicted)"
    assert said["deploy scale"] == "2 replicas → 3 replicas"
    assert said["isvc canary"] == "00003 100% → 00002 80% · 00003 20%"
    assert said["isvc promote"] == "00002 80% · 00003 20% → 00003 100%"
    assert said["model promote"] == "production v4 → v5"
    assert said["deploy rollback"] == ("vllm-openai:v0.6.1 → vllm-openai:v0.5.4, model llama-70b-chat/8 → "
                                       "llama-70b-chat/7, revision 2 → 3 (from 1)")
    assert not any(text in ("- → -", "") for text in said.values())
    # `cockpit audit` says the same, from the same file
    r = subprocess.run([sys.executable, "-m", "cockpit", "--demo", "audit"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert "schedulable → cordoned" in r.stdout and "2 replicas → 3 replicas" in r.stdout


def _entries() -> list[dict[str, Any]]:
    def e(at: str, command: str, target: str, previous: Any, new: Any) -> dict[str, Any]:
        return {"time": f"2026-11-23T{at}.000+00:00", "user": "ops", "host": "bastion-1", "origin": "ui",
                "source": target.split("/")[0], "command": command, "target": target, "previous": previous,
                "new": new, "result": "ok", "duration_ms": 10.0, "error": None}

    return [
        e("08:00:00", "node cordon", "gpu-prod/l4-01", {"unschedulable": False}, {"unschedulable": True}),
        e("08:01:00", "node drain", "gpu-prod/cpu-01", {"unschedulable": False, "pods": ["a/x", "a/y", "a/z"]},
          {"unschedulable": True, "evicted": ["a/x", "a/y", "a/z"], "blocked": []}),
        e("08:02:00", "isvc canary", "gpu-prod/inference/mistral-7b",
          {"canaryTrafficPercent": None, "traffic": {"mistral-7b-predictor-00006": 100}},
          {"canaryTrafficPercent": 10, "traffic": {"mistral-7b-predictor-00006": 90,
                                                   "mistral-7b-predictor-00007": 10}}),
        e("08:03:00", "deploy rollback", "gpu-prod/inference/llama-70b",
          {"revision": 2, "images": ["vllm/vllm-openai:v0.6.1"], "model": "models:/llama-70b-chat/8"},
          {"revision": 3, "from_revision": 1, "images": ["vllm/vllm-openai:v0.5.4"],
           "model": "models:/llama-70b-chat/7", "rollout": "complete"}),
    ]


def _write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in _entries()))
    return path


async def test_audit_screen_change_column(tmp_path: Path) -> None:
    audit = _write(tmp_path / "audit.jsonl")
    app = make_app(audit, start_view="audit")
    async with app.run_test(size=(200, 30)) as pilot:
        await loaded(pilot)
        assert isinstance(app.screen, AuditScreen)
        t = app.screen.query_one(VirtualTable)
        rows = [t.row(k) for k in t.visible_keys()]
        change = {r.cells[3]: r.cells[6] for r in rows if r is not None}
        assert change == {
            "node cordon": "schedulable → cordoned",
            "node drain": "schedulable, 3 pods → cordoned, 0 pods (3 evicted)",
            "isvc canary": "00006 100% → 00006 90% · 00007 10%",
            "deploy rollback": "vllm-openai:v0.6.1 → vllm-openai:v0.5.4, model llama-70b-chat/8 → llama-70b-chat/7, "
                               "revision 2 → 3 (from 1)",
        }
        assert "4 entries in" in str(app.screen.query_one("#audit-summary").render())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_audit_change_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    audit = _write(SNAP_AUDIT)
    assert snap_compare(make_app(audit, start_view="audit"), terminal_size=size, run_before=loaded)
