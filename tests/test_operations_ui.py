"""The UI side of operations: a change's watch runs while the keys answer, the status bar says an
operation is running, `:ops` lists it with its last step and `c` stops following it (the change
stands, the outcome is `cancelled`, in the audit log too); an operation an earlier process left
unfinished is said on the Overview and the status bar at start."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cockpit.audit import AuditLog, make_entry
from cockpit.commands import build_registry
from cockpit.commands.registry import CommandSpec, Context, Outcome, Plan
from cockpit.contracts import Cancelled
from cockpit.hub import Hub
from cockpit.ops.journal import OpState, Watch, operations
from cockpit.sandbox import demo_config
from screens.app import CockpitApp
from screens.widgets.bars import StatusBar
from screens.widgets.dialogs import ConfirmScreen
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import FIXED_NOW
from tests.ui_helpers import loaded, make_app, wait_for


def status(app: Any) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_q_quits_at_once_when_nothing_is_followed(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_a_watch_runs_while_the_ui_answers_and_can_be_stopped(tmp_path: Path) -> None:
    cfg = demo_config(audit_path=tmp_path / "audit.jsonl")
    release = threading.Event()

    def planner(c: Context, args: Any) -> Plan:
        def watch(w: Watch) -> Outcome:
            w.progress("rack-a/thing: 1 of 4 ready")
            while not release.is_set():
                if w.cancelled():
                    return Outcome(new={"replicas": 4}, error=Cancelled("rack-a/thing: stopped following"))
                time.sleep(0.02)
            return Outcome(new={"replicas": 4}, text="rack-a/thing: 4 of 4 ready")

        return Plan("thing scale", "scale rack-a/thing to 4", lambda: Outcome(new={"replicas": 4}, watch=watch),
                    mutating=True, source="rack-a", target="rack-a/thing", previous={"replicas": 2},
                    new={"replicas": 4}, confirm="Scale rack-a/thing to 4?")

    registry = build_registry()
    registry.add(CommandSpec(("thing", "scale"), "scale a thing", planner, mutating=True))
    app = CockpitApp(hub=Hub(cfg, now=lambda: FIXED_NOW), registry=registry, audit=AuditLog(cfg.audit_path),
                     refresh_seconds=0, start_view="machines", watch=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await loaded(pilot)
            app.dispatch(["thing scale"])
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: "⟳ 1 op running" in status(app))
            await pilot.press("q")  # quitting now would stop following it: named, and asked first
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "1 operation(s) still followed here:" in str(app.screen.lines) and "thing scale" in str(
                app.screen.lines)
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            assert app.is_running
            await pilot.press("3")  # the keys answer while the watch runs: another view
            await wait_for(pilot, lambda: app.current_mode == "nodes")
            app.run_command_line("ops")
            await wait_for(pilot, lambda: app.current_mode == "operations"
                           and bool(app.screen.query("#operations-table")))
            table = app.screen.query_one("#operations-table", VirtualTable)
            (op,) = app.journal.running()
            await wait_for(pilot, lambda: table.row(op.id) is not None)
            row = table.row(op.id)
            assert row is not None and row.cells[1] == "running" and row.cells[5] == "rack-a/thing: 1 of 4 ready"
            table.move_to(op.id)
            await pilot.press("c")
            await wait_for(pilot, lambda: app.journal.get(op.id).state is not OpState.RUNNING)  # type: ignore
            await wait_for(pilot, lambda: (r := table.row(op.id)) is not None and r.cells[1] == "cancelled")
            assert "op running" not in status(app)
    finally:
        release.set()
    lines, _ = AuditLog(cfg.audit_path).lines()
    (read,) = operations(lines)
    assert read.state is OpState.CANCELLED and read.steps[0][1] == "rack-a/thing: 1 of 4 ready"


async def test_an_operation_a_crash_left_is_said_at_start(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    dead = subprocess.Popen(["true"])  # a process that has ended: its pid is free (reused only rarely)
    dead.wait()
    for phase in ("intent", "applied"):  # and then the process died: no outcome
        audit.append(replace(make_entry(origin="script", source="gpu-prod", command="deploy rollback",
                                        target="gpu-prod/inference/llama-70b", previous={"revision": 5},
                                        new={"from_revision": 4}, result="started", duration_s=0.0,
                                        op_id="0123456789ab", phase=phase), pid=dead.pid))
    app = make_app(tmp_path / "audit.jsonl")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        text = str(app.screen.query_one("#overview-problems").render())
        assert "did not finish: deploy rollback gpu-prod/inference/llama-70b, applied at " in text
        assert "outcome unknown" in text and "⚠ 1 op unfinished" in status(app)
        app.run_command_line("ops")
        await wait_for(pilot, lambda: app.current_mode == "operations" and bool(app.screen.query("#operations-table")))
        table = app.screen.query_one("#operations-table", VirtualTable)
        await wait_for(pilot, lambda: table.row("0123456789ab") is not None)
        assert table.row("0123456789ab").cells[1] == "unfinished"  # type: ignore[union-attr]
