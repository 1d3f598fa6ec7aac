"""The audit log is written ahead: the intent is on disk before a change runs, a log that cannot take
it refuses the change, the outcome follows under the same id, and refusals leave a trace too."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog, change_text, make_entry
from cockpit.commands import Context
from cockpit.commands.registry import CommandSpec, Outcome, Plan, Registry
from cockpit.contracts import MACHINES
from tests.conftest import ROOT, audit_entries, read_audit


def libvirt_state(ctx: Context, source: str, name: str) -> int:
    return int(ctx.hub.call(source, MACHINES, lambda b: b._conn.lookupByName(name).state()[0]))


def test_the_intent_is_on_disk_before_the_change_runs(ctx: Context) -> None:
    seen: list[dict[str, Any]] = []

    def planner(c: Context, args: Any) -> Plan:
        def run() -> Outcome:
            seen.extend(json.loads(x) for x in c.audit.path.read_text().splitlines())
            return Outcome(new={"replicas": 4}, text="scaled")

        return Plan("thing scale", "scale rack-a/thing from 2 to 4", run, mutating=True, source="rack-a",
                    target="rack-a/thing", previous={"replicas": 2}, new={"replicas": 4})

    reg = Registry()
    reg.add(CommandSpec(("thing", "scale"), "scale a thing", planner, mutating=True))
    r = reg.run_line("thing scale --yes", ctx)
    assert (r.status, r.exit_code) == ("ok", 0)
    (intent,) = seen  # what the change itself could read from the log while it ran
    assert (intent["phase"], intent["result"], intent["previous"], intent["target"]) == (
        "intent", "started", {"replicas": 2}, "rack-a/thing")
    lines = [json.loads(x) for x in ctx.audit.path.read_text().splitlines()]
    assert [(x["phase"], x["id"]) for x in lines] == [("intent", intent["id"]), ("applied", intent["id"]),
                                                      ("outcome", intent["id"])]
    assert lines[2]["result"] == "ok" and lines[2]["new"] == {"replicas": 4}
    (entry,) = audit_entries(ctx)  # read back as one operation
    assert (entry["result"], entry["previous"], entry["new"], entry["time"]) == (
        "ok", {"replicas": 2}, {"replicas": 4}, intent["time"])


def _directory(p: Path) -> None:
    p.mkdir(parents=True)


def _parent_is_a_file(p: Path) -> None:
    p.parent.parent.mkdir(parents=True, exist_ok=True)
    p.parent.write_text("not a directory")


def _symlink(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    (p.parent / "elsewhere").write_text("precious\n")
    p.symlink_to(p.parent / "elsewhere")


def _fifo(p: Path) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(p)


@pytest.mark.parametrize(("make", "why"), [
    (_directory, "is a directory"),
    (_parent_is_a_file, "{parent} is not a directory"),
    (_symlink, "not a regular file"),
    (_fifo, "not a regular file"),
])
def test_a_log_that_cannot_be_written_refuses_the_change(registry: Registry, ctx: Context, tmp_path: Path,
                                                         make: Any, why: str) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    make(path)
    bad = replace(ctx, audit=AuditLog(path))
    r = registry.run_line("vm stop rack-a/head-01 --yes", bad)  # a fifo without a reader must not hang it
    assert (r.status, r.exit_code) == ("failed", 1)
    why = why.format(parent=path.parent)
    assert r.error == f"refused: cannot write the audit log {path}: {why}; nothing was changed"
    assert libvirt_state(ctx, "rack-a", "head-01") == 1  # still running: libvirt says so
    if make is _symlink:
        assert (path.parent / "elsewhere").read_text() == "precious\n"


def test_the_log_is_never_chmodded(registry: Registry, ctx: Context) -> None:
    ctx.audit.path.write_text("")
    os.chmod(ctx.audit.path, 0o644)  # somebody chose this mode for the file at our path: not ours to change
    assert registry.run_line("vm stop rack-a/head-01 --yes", ctx).status == "ok"
    assert stat.S_IMODE(os.stat(ctx.audit.path).st_mode) == 0o644
    fresh = ctx.audit.path.with_name("new.jsonl")
    assert registry.run_line("vm start rack-b/h100-dev-01 --yes", replace(ctx, audit=AuditLog(fresh))).status == "ok"
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600


def test_refusals_are_recorded_unless_switched_off(registry: Registry, ctx: Context) -> None:
    ro = replace(ctx, hub=type(ctx.hub)(replace(ctx.hub.config, read_only=True)))
    assert registry.run_line("vm stop rack-a/head-01 --yes", ro).exit_code == 3
    assert registry.run_line("vm stop rack-a/head-01", ctx).exit_code == 3
    entries = audit_entries(ctx)
    assert [(e["target"], e["result"], e["phase"]) for e in entries] == [
        ("rack-a/head-01", "refused", "refused"), ("rack-a/head-01", "refused", "refused")]
    assert entries[0]["error"].startswith("refused: cockpit runs read-only")
    assert entries[0]["previous"] == {"state": "running"}
    quiet = replace(ctx, audit=AuditLog(ctx.audit.path.with_name("quiet.jsonl"), record_refusals=False))
    assert registry.run_line("vm stop rack-a/head-01", quiet).exit_code == 3
    assert not quiet.audit.path.exists()


def test_an_intent_without_outcome_reads_as_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    from cockpit.audit import make_entry

    log.append(make_entry(origin="ui", source="rack-a", command="vm stop", target="rack-a/x",
                          previous={"state": "running"}, new={"state": "stopped"}, result="started",
                          duration_s=0, op_id="abc", phase="intent"))
    path.write_text(path.read_text() + '{"time":"2026-01-01T00:00:00","user":"u","host":"h","origin":"ui",'
                    '"source":"s","command":"vm start","target":"s/y","previous":null,"new":null,'
                    '"result":"ok","duration_ms":1.0,"error":null}\n')  # a line from before operation ids
    entries, bad = log.read()
    assert bad == 0
    assert [(e.target, e.result) for e in entries] == [("rack-a/x", "unfinished"), ("s/y", "ok")]


def test_script_mode_refuses_when_the_disk_is_full(tmp_path: Path) -> None:
    """A file size limit makes the audit append fail as a full disk does (EFBIG instead of ENOSPC)."""
    state = tmp_path / "state" / "cockpit"
    state.mkdir(parents=True)
    log = state / "demo-audit.jsonl"
    log.write_text("x" * 8192 + "\n")
    limit = log.stat().st_size

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONDONTWRITEBYTECODE": "1",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "--demo", "--keep-going", "-o", "json", "--script", "-"],
                       input="vm stop rack-a/head-01 --yes\nvm show rack-a/head-01\n", capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120, preexec_fn=cap)
    assert r.returncode == 1, r.stderr
    stop, show = (json.loads(x) for x in r.stdout.splitlines())
    assert stop["status"] == "failed"
    assert stop["error"] == f"refused: cannot write the audit log {log}: File too large; nothing was changed"
    assert show["data"]["state"] == "running"
    assert "Traceback" not in r.stderr
    assert read_audit(log) == []  # the filler line is not an entry, and nothing was added


@pytest.mark.parametrize(("previous", "new", "shown"), [
    ({"state": "running"}, {"state": "stopped"}, "running → stopped"),  # vm stop
    ({"state": "stopped"}, None, "stopped → -"),  # failed: nothing known after
    ({"replicas": 2}, {"replicas": 4}, "2 replicas → 4 replicas"),  # deploy scale
    ({"canaryTrafficPercent": 0}, {"canaryTrafficPercent": 25}, "canary 0% → 25%"),  # isvc canary (was - → -)
    ({"canaryTrafficPercent": 25}, {"canaryTrafficPercent": None}, "canary 25% → unset"),  # isvc promote
    ({"unschedulable": False}, {"unschedulable": True}, "schedulable → cordoned"),  # node cordon (was - → -)
    ({"unschedulable": False, "pods": 3}, {"unschedulable": True, "evicted": ["a", "b"], "moves": []},
     "schedulable, 3 pods → cordoned, 0 pods (2 evicted)"),  # node drain
    ({"revision": 5, "images": ["app:v2"], "model": "m@9"}, {"from_revision": 4, "images": ["app:v1"], "model": "m@8"},
     "app:v2 → app:v1, model m@9 → m@8, revision 5 → revision 4's template"),  # deploy rollback
    ({"min": 1, "max": 4}, {"min": 2, "max": 8}, "min 1 → 2, max 4 → 8"),  # hpa set
    ({"alias": "prod", "version": 8}, {"alias": "prod", "version": 9}, "prod v8 → v9"),  # promote
    ({"stage": None}, {"stage": "prod"}, "stage - → prod"),  # model tag
    ({"state": "running", "definition": "<domain/>"}, {"state": "undefined"}, "running → undefined"),  # destroy
    (None, {"machines": ["aws/t-0", "aws/t-1"], "steps": ["spot refused"]}, "- → aws/t-0,aws/t-1"),  # provision
])
def test_every_kind_of_change_reads_as_previous_to_new(previous: object, new: object, shown: str) -> None:
    assert change_text(previous, new) == shown


def test_cockpit_audit_shows_the_change_of_a_cordon(registry: Registry, ctx: Context) -> None:
    """The script's `audit` and the Audit screen say the same thing (one function), for every kind."""
    ctx.audit.append(make_entry(origin="script", source="gpu-prod", command="node cordon", target="gpu-prod/n1",
                                previous={"unschedulable": False}, new={"unschedulable": True}, result="ok",
                                duration_s=0.1, error=None, op_id="op1", phase="outcome"))
    r = registry.run_line("audit", ctx)
    assert r.outcome.table is not None and r.outcome.table.columns[-1] == "CHANGE"
    assert r.outcome.table.rows[-1][-1] == "schedulable → cordoned"
