"""`cockpit --script`: real subprocesses, JSON lines parsed, exit codes, audit lines written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, read_audit


def run(args: list[str], tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", "--demo", *args], capture_output=True, text=True,
                          input=stdin, env=env, cwd=tmp_path, timeout=120)


def audit_lines(tmp_path: Path) -> list[dict[str, object]]:
    return read_audit(tmp_path / "state" / "cockpit" / "demo-audit.jsonl")


def script(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ops.cockpit"
    p.write_text(text)
    return p


def test_several_commands_json_output(tmp_path: Path) -> None:
    f = script(tmp_path, """\
# morning routine
vm list --source rack-a
vm start rack-a/a100-node-03
vm stop rack-b/h100-node-01
gpu list --free --source rack-b
vm provision rack-b/h100-node-09 --template gpu-node --vcpus 24 --memory 128G --gpu 0000:ba:00.0 --start
vm show rack-b/h100-node-09
""")
    r = run(["--script", str(f), "-o", "json", "--yes"], tmp_path)
    assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["line"] for x in records] == [2, 3, 4, 5, 6, 7]
    for rec in records:
        assert set(rec) == {"line", "input", "command", "status", "exit_code", "data", "error", "duration_ms",
                            "as_of", "sources", "errors"}
        assert rec["status"] == "ok" and rec["exit_code"] == 0 and rec["error"] is None
    assert len(records[0]["data"]) == 6
    assert records[1]["data"]["state"] == "running"
    assert records[2]["data"]["state"] == "stopped"
    free = {g["pci_address"] for g in records[3]["data"]}
    assert {"0000:18:00.0", "0000:ba:00.0"} <= free  # h100-node-01 was just stopped: its GPUs are free
    assert records[4]["data"]["gpus"][0]["pci_address"] == "0000:ba:00.0"
    assert records[5]["data"]["vcpus"] == 24 and records[5]["data"]["memory_mib"] == 128 * 1024
    audit = audit_lines(tmp_path)
    assert [(a["command"], a["target"], a["result"]) for a in audit] == [
        ("vm start", "rack-a/a100-node-03", "ok"), ("vm stop", "rack-b/h100-node-01", "ok"),
        ("vm provision", "rack-b/h100-node-09", "ok")]
    assert audit[0]["previous"] == {"state": "stopped"} and audit[0]["new"] == {"state": "running"}


def test_text_output_is_a_table(tmp_path: Path) -> None:
    r = run(["vm", "list"], tmp_path)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["MACHINE", "STATE", "TYPE", "VCPU", "MEMORY", "GPUS", "ADDRESS", "UPTIME", "HOST"]
    assert any(x.startswith("rack-a/a100-node-01") and "4×A100 SXM4 80GB" in x for x in lines)


def test_cockpits_own_options_go_anywhere_on_the_line(tmp_path: Path) -> None:
    """`cockpit vm list -o json` as the README has it; a command's own options stay its own, and
    after `--` every word is the command's."""
    for argv in (["vm", "list", "-o", "json"], ["vm", "list", "--output=json"], ["-o", "json", "vm", "list"]):
        r = run(argv, tmp_path)
        assert r.returncode == 0, (argv, r.stderr)
        (record,) = [json.loads(x) for x in r.stdout.splitlines()]
        assert record["command"] == "vm list" and len(record["data"]) >= 6
    r = run(["vm", "list", "--", "-o", "json"], tmp_path)
    assert r.returncode == 2 and "vm list: unexpected argument '-o'" in r.stderr


def test_bad_line_runs_nothing_and_exits_2(tmp_path: Path) -> None:
    f = script(tmp_path, "vm stop rack-a/head-01\n\nvm strat rack-a/head-01\nvm list --sauce x\n")
    r = run(["--script", str(f), "--yes"], tmp_path)
    assert r.returncode == 2
    err = r.stderr.splitlines()
    assert err[0] == f"{f}:3: unknown command 'vm strat' (did you mean 'vm start'?) (vm takes: destroy, " \
                     "force-off, list, provision, reboot, resume, show, start, stop, suspend, templates, " \
                     "terminate, xml)"
    assert err[1].startswith(f"{f}:4: vm list: unknown option --sauce")
    assert err[2] == f"{f}: 2 bad line(s); nothing was run"
    assert audit_lines(tmp_path) == []
    assert "Traceback" not in r.stderr


def test_missing_yes_is_refused_with_exit_3(tmp_path: Path) -> None:
    r = run(["-o", "json", "--script", "-"], tmp_path, stdin="vm list\nvm stop rack-a/head-01\nvm list\n")
    assert r.returncode == 3
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["status"] for x in records] == ["ok", "refused"]  # stops at the refusal
    assert "add --yes" in records[1]["error"]
    (refusal,) = audit_lines(tmp_path)  # the refusal is on record; nothing ran
    assert (refusal["command"], refusal["target"], refusal["result"], refusal["error"]) == (
        "vm stop", "rack-a/head-01", "refused", records[1]["error"])


def test_per_line_yes(tmp_path: Path) -> None:
    r = run(["--script", "-"], tmp_path, stdin="vm stop rack-a/head-01 --yes\n")
    assert r.returncode == 0 and r.stdout.strip() == "rack-a/head-01: stopped"


def test_dry_run_prints_plan_and_changes_nothing(tmp_path: Path) -> None:
    r = run(["--dry-run", "-o", "json", "--script", "-"], tmp_path,
            stdin="vm destroy rack-a/login-01\nvm show rack-a/login-01\n")
    assert r.returncode == 0, r.stderr
    plan, show = (json.loads(x) for x in r.stdout.splitlines())
    assert plan["status"] == "planned" and plan["data"]["plan"].startswith("destroy rack-a/login-01 (running")
    assert show["data"]["state"] == "running"
    assert audit_lines(tmp_path) == []


def test_read_only_refuses(tmp_path: Path) -> None:
    r = run(["--read-only", "--yes", "vm", "stop", "rack-a/head-01"], tmp_path)
    assert r.returncode == 3
    assert r.stderr.strip() == "cockpit: refused: cockpit runs read-only (--read-only or read_only = true)"
    assert [(a["command"], a["target"], a["result"]) for a in audit_lines(tmp_path)] == [
        ("vm stop", "rack-a/head-01", "refused")]


def test_failed_operation_exits_1_and_keep_going(tmp_path: Path) -> None:
    stdin = "vm start rack-a/head-01 --yes\nvm start rack-a/nope --yes\nvm stop rack-a/login-01 --yes\n"
    r = run(["-o", "json", "--script", "-"], tmp_path, stdin=stdin)
    assert r.returncode == 1
    assert [json.loads(x)["status"] for x in r.stdout.splitlines()] == ["ok", "failed"]
    r = run(["-o", "json", "--keep-going", "--script", "-"], tmp_path, stdin=stdin)
    assert r.returncode == 1
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["status"] for x in records] == ["ok", "failed", "ok"]
    assert records[1]["error"] == "rack-a/nope: no such machine"


def test_gpu_conflict_exit_1(tmp_path: Path) -> None:
    r = run(["--yes", "vm", "provision", "rack-b/x", "--template", "gpu-node", "--gpu", "18:00.0"], tmp_path)
    assert r.returncode == 1
    assert "GPU 0000:18:00.0 (H100 SXM5 80GB) is in use by running machine rack-b/h100-node-01" in r.stderr
    assert audit_lines(tmp_path) == []  # refused while planning: nothing was attempted


def test_audit_command_shows_entries(tmp_path: Path) -> None:
    run(["--yes", "vm", "suspend", "rack-a/head-01"], tmp_path)
    r = run(["-o", "json", "audit"], tmp_path)
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    (entry,) = rec["data"]
    assert entry["command"] == "vm suspend" and entry["previous"] == {"state": "running"}


def test_unreadable_script_file(tmp_path: Path) -> None:
    r = run(["--script", str(tmp_path / "missing.txt")], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == f"cockpit: cannot read script {tmp_path / 'missing.txt'}: No such file or directory"


@pytest.mark.parametrize("cmd", [["help"], ["vm", "templates"], ["sources"]])
def test_reading_commands(tmp_path: Path, cmd: list[str]) -> None:
    r = run(cmd, tmp_path)
    assert r.returncode == 0 and r.stdout and not r.stderr


def test_gpu_list_after_our_own_change_in_the_same_script(tmp_path: Path) -> None:
    """A listing's GPU holders are reused for a moment; a provision or a start in the same script
    must show in the next `gpu list`, or an operator double-books a GPU."""
    f = script(tmp_path, """\
vm list --source rack-b
vm provision rack-b/taker --template gpu-node --gpu 0000:ba:00.0 --start
gpu list --free --source rack-b
vm list --source rack-b
vm start rack-b/h100-node-02
gpu list --source rack-b
""")
    r = run(["--script", str(f), "-o", "json", "--yes"], tmp_path)
    assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["status"] for x in records] == ["ok"] * 6
    free = {g["pci_address"] for g in records[2]["data"]}
    assert "0000:ba:00.0" not in free  # rack-b/taker runs with it
    assert {"0000:9a:00.0", "0000:db:00.0"} <= free  # held by a stopped machine, or by none
    held = {g["pci_address"]: (g["assigned_to"], g["assigned_running"]) for g in records[5]["data"]}
    assert held["0000:9a:00.0"] == held["0000:ab:00.0"] == ("h100-node-02", True)  # no longer "(stopped)"
    assert held["0000:ba:00.0"] == ("taker", True)


def test_sources_json_says_since_when_each_source_is_in_its_state(tmp_path: Path) -> None:
    r = run(["-o", "json", "sources"], tmp_path)
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    rows = {row["source"]: row for row in rec["data"]}
    assert rows["rack-a"]["health"] == "ok" and rows["rack-a"]["since"] and rows["rack-a"]["as_of"]
