"""Snapshots of every screen at 80x24 and 120x40 in the dark theme, plus the ANSI theme, a
confirmation and the help. Data comes from the real test-driver sources with a fixed clock."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit.sandbox import LazyRegistry, demo_config, prom_source
from cockpit.sandbox.kube.server import KubeFake
from screens.widgets.bars import VIEWS
from tests.conftest import FIXED_NOW
from tests.kube_helpers import reset_clock, seeded_fake
from tests.prom_helpers import prometheus_missing
from tests.ui_helpers import loaded, make_app, wait_for

SNAP_AUDIT = Path("/tmp/cockpit-snapshots/audit.jsonl")
SIZES = [(80, 24), (120, 40)]


def audit_with_entries() -> Path:
    """A fixed path, so the path the Audit screen prints is the same on every machine."""
    shutil.rmtree(SNAP_AUDIT.parent, ignore_errors=True)
    SNAP_AUDIT.parent.mkdir(parents=True)
    entries = [
        {"time": "2026-11-23T08:01:12.000+00:00", "user": "ops", "host": "bastion-1", "origin": "script",
         "source": "rack-a", "command": "vm start", "target": "rack-a/a100-node-02", "previous": {"state": "stopped"},
         "new": {"state": "running"}, "result": "ok", "duration_ms": 812.0, "error": None},
        {"time": "2026-11-23T09:12:40.000+00:00", "user": "ana", "host": "bastion-1", "origin": "ui",
         "source": "rack-b", "command": "vm reboot", "target": "rack-b/h100-node-02",
         "previous": {"state": "stopped"}, "new": None, "result": "failed", "duration_ms": 3.1,
         "error": "rack-b/h100-node-02: cannot reboot: it is shut off"},
    ]
    SNAP_AUDIT.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return SNAP_AUDIT


@pytest.fixture(autouse=True)
def kube(tmp_path: Path) -> Iterator[KubeFake]:
    """Every screen shows the demo cluster too, as `cockpit --demo` does (fixed clock, fixed names)."""
    global _KUBE, _EDGE
    from cockpit.sandbox.kube.seed import seed_edge

    _KUBE = seeded_fake(tmp_path / "kube", FIXED_NOW)
    _EDGE = KubeFake(tmp_path / "edge").start()
    seed_edge(_EDGE)
    yield _KUBE
    _KUBE.stop()
    _EDGE.stop()
    _KUBE = _EDGE = None
    reset_clock()


_KUBE: KubeFake | None = None
_EDGE: KubeFake | None = None
_REGISTRY: Path | None = None


@pytest.fixture(autouse=True)
def registry_db(db: Path) -> Iterator[Path]:
    """The demo registry too (a copy of the session's seeded sqlite file, on the fixed clock)."""
    global _REGISTRY
    _REGISTRY = db
    yield db
    _REGISTRY = None


def app_for(view: str, *, prom_url: str | None = None, audit: Path | None = None,  # type: ignore[no-untyped-def]
            **kw: Any):
    audit = audit or audit_with_entries()
    config = demo_config(kube=_KUBE, kube_edge=_EDGE, audit_path=audit,
                         registry=LazyRegistry(_REGISTRY) if _REGISTRY else None)
    # this machine's CPU, memory and hostname differ everywhere: the local source is Pilot-tested instead
    sources = tuple(s for s in config.sources if s.kind != "local")
    if prom_url:  # the steady exporter: constant GPU figures, flat sparklines over the history promtool wrote
        sources += (prom_source("prom", prom_url, window="5m"),)
    config = replace(config, sources=sources)
    return make_app(audit, config=config, start_view=view, **kw)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", [v for _, v, _ in VIEWS])
def test_screen(snap_compare, view: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        if view == "models" and size[0] >= 110:  # the detail pane reads the versions in a worker
            await wait_for(pilot, lambda: "loading" not in str(pilot.app.screen.query_one("#detail").render()))
            await pilot.pause(0.05)

    assert snap_compare(app_for(view), terminal_size=size, run_before=run_before)


def test_machines_ansi_theme(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for("machines", theme="ansi"), terminal_size=(120, 40), run_before=loaded)


def test_machines_filtered_and_marked(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("slash", *"a100", "enter", "space", "space")

    assert snap_compare(app_for("machines"), terminal_size=(120, 40), run_before=run_before)


def test_destroy_confirmation(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        from screens.widgets.dialogs import ConfirmScreen

        await loaded(pilot)
        await pilot.press("down", "ctrl+d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.pause(0.1)

    assert snap_compare(app_for("machines"), terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(app_for("machines"), terminal_size=(120, 40), run_before=run_before)


def test_nodes_gpu_only_with_detail_narrow(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("f", "down", "d")
        await pilot.pause(0.1)

    assert snap_compare(app_for("nodes"), terminal_size=(80, 24), run_before=run_before)


def test_rollback_revision_picker(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        from screens.widgets.dialogs import PickScreen

        await loaded(pilot)
        pilot.app.screen.table.move_to("deploy:gpu-prod/inference/llama-70b")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PickScreen))
        await pilot.pause(0.1)

    assert snap_compare(app_for("deployments"), terminal_size=(120, 40), run_before=run_before)


def test_drain_confirmation_lists_the_pods(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        from screens.widgets.dialogs import ConfirmScreen

        await loaded(pilot)
        pilot.app.screen.table.move_to("gpu-prod/a100-01")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.pause(0.1)

    assert snap_compare(app_for("nodes"), terminal_size=(80, 24), run_before=run_before)


@prometheus_missing
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_metrics_with_prometheus(snap_compare, prom, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("slash", *"gpu-prod/h100-01", "enter")  # gauges: constant in the steady exporter
        await pilot.pause(0.1)

    assert snap_compare(app_for("metrics", prom_url=prom.url), terminal_size=size, run_before=run_before)


@prometheus_missing
def test_nodes_with_gpu_utilisation(snap_compare, prom) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for("nodes", prom_url=prom.url), terminal_size=(120, 40), run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_costs_by_namespace(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await pilot.press("b", "b", "b", "b")
        await pilot.pause(0.05)

    assert snap_compare(app_for("costs"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_costs_compare_dialog(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """2×A100 on demand: the clouds' offers with whether the configured source can provision each, and
    rack-a's two free A100s priced by the on-prem model."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        from screens.widgets.compare_form import CompareScreen

        await loaded(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen))
        pilot.app.screen.query_one("#c-count").value = "2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.hpc)  # the free HPC GPUs, asked in a worker
        dialog = pilot.app.screen  # and each cloud asked whether the region sells the type
        await wait_for(pilot, lambda: all((q.cloud, q.region, q.machine_type) in dialog.verdicts
                                          for q in dialog.quotes), timeout=30)
        await pilot.pause(0.05)

    assert snap_compare(app_for("costs"), terminal_size=size, run_before=run_before)


def audit_with_operations() -> Path:
    """Three operations on a fixed clock: one ended ok with its steps, one failed, one a killed
    process left unfinished (applied, no outcome)."""
    path = SNAP_AUDIT.parent / "ops-audit.jsonl"
    base = {"user": "ops", "host": "bastion-1", "origin": "script", "duration_ms": 0.0, "error": None,
            "message": None}

    def line(t: str, op: str, phase: str, command: str, target: str, result: str, **kw: Any) -> str:
        return json.dumps(base | {"time": f"2026-11-23T{t}.000+00:00", "id": op, "phase": phase, "command": command,
                                  "target": target, "source": target.split("/")[0], "previous": kw.get("previous"),
                                  "new": kw.get("new"), "result": result} | kw) + "\n"

    scale, roll, drain = "5ca1e0000001", "7011bac00002", "d7a1f0000003"
    path.write_text("".join([
        line("09:01:00", scale, "intent", "deploy scale", "gpu-prod/inference/router", "started",
             previous={"replicas": 2}, new={"replicas": 4}),
        line("09:01:01", scale, "applied", "deploy scale", "gpu-prod/inference/router", "applied"),
        line("09:01:05", scale, "progress", "deploy scale", "gpu-prod/inference/router", "running",
             message="gpu-prod/inference/router: 3 of 4 updated replicas available"),
        line("09:01:09", scale, "outcome", "deploy scale", "gpu-prod/inference/router", "ok",
             previous={"replicas": 2}, new={"replicas": 4}),
        line("09:10:00", drain, "intent", "node drain", "gpu-prod/gpu-a100-3", "started",
             previous={"unschedulable": False}),
        line("09:10:02", drain, "outcome", "node drain", "gpu-prod/gpu-a100-3", "failed",
             error="gpu-prod/gpu-a100-3: 1 pod refused by its PodDisruptionBudget after 60s"),
        line("09:20:00", roll, "intent", "deploy rollback", "gpu-prod/inference/llama-70b", "started",
             previous={"revision": 5}),
        line("09:20:01", roll, "applied", "deploy rollback", "gpu-prod/inference/llama-70b", "applied"),
        line("09:20:03", roll, "progress", "deploy rollback", "gpu-prod/inference/llama-70b", "running",
             message="gpu-prod/inference/llama-70b: 1 of 2 updated replicas available"),
    ]))
    return path


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_operations_view(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await loaded(pilot)
        await wait_for(pilot, lambda: bool(pilot.app.screen.query("#operations-table")))
        await pilot.pause(0.1)

    audit_with_entries()  # the snapshots' directory, fresh
    assert snap_compare(app_for("operations", audit=audit_with_operations()), terminal_size=size,
                        run_before=run_before)
