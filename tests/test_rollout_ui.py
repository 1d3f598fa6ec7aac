"""The rollout panel (screens/rollout.py): a rollout started from the command line opens it; its
keys pause, resume, promote and abort through the same commands as script mode (confirmed first)
while the watch runs and the UI answers; what it shows is read back from kubectl. Snapshots at
80x24 and 120x40 of a rollout in progress, promoted and rolled back, drawn from audit records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.config import Config
from cockpit.hub import Hub
from cockpit.ops.journal import OpState
from cockpit.sandbox import demo_config
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from screens.app import CockpitApp
from screens.rollout import RolloutScreen
from screens.widgets.dialogs import ConfirmScreen
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import FIXED_NOW
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.rollout_helpers import own_prometheus, rollout_sources
from tests.rollout_story import IN_PROGRESS, PROMOTED, ROLLED_BACK, write
from tests.test_rollout import canary_gone, model_env
from tests.ui_helpers import loaded, make_app, wait_for, workers_done

SIZES = [(80, 24), (120, 40)]
LINE = ("rollout start reg/llama-70b-chat --to gpu-prod/inference/llama-70b --steps 50,100 --prometheus prom "
        "--gate 'error_rate < 1%' --gate 'p95 < 3s' --failures 1 ")


def text(app: Any, widget: str) -> str:
    return str(app.screen.query_one(widget).render())


@pytest.fixture
def prom_with_canaries(kube: KubeFake) -> Iterator[PromServer]:
    """A Prometheus of its own whose exporter serves the cluster's canary pods too (the demo's
    wiring): the canaries' series must not reach the session's Prometheus."""
    with own_prometheus(kube) as server:
        yield server


def app_on(kube: KubeFake, db: Path, prom: PromServer, tmp_path: Path) -> CockpitApp:
    cfg = Config(sources=rollout_sources(kube, db, prom.url), audit_path=tmp_path / "audit.jsonl")
    return CockpitApp(hub=Hub(cfg, now=lambda: FIXED_NOW), registry=build_registry(), audit=AuditLog(cfg.audit_path),
                      refresh_seconds=0, start_view="deployments", watch=False)


async def confirm(pilot: Any) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    await pilot.press("y")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen))


async def start(pilot: Any, line: str) -> None:
    """A rollout typed on the command line and confirmed: its panel opens by itself."""
    await loaded(pilot)
    pilot.app.dispatch([line])
    await confirm(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen), timeout=30)


@kubectl_missing
@prometheus_missing
async def test_the_panel_follows_a_rollout_and_its_keys_pause_resume_and_promote(
        kube: KubeFake, db: Path, prom_with_canaries: PromServer, tmp_path: Path) -> None:
    app = app_on(kube, db, prom_with_canaries, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, LINE + "--version 6 --interval 60s")  # one long step: the keys act inside it
        await wait_for(pilot, lambda: "canary ~50% of traffic (by pods)" in text(app, "#rollout-head"), timeout=30)
        assert "▶50% ·100%" in text(app, "#rollout-steps")
        assert "error_rate < 1%" in text(app, "#rollout-gates") and "no reading yet" in text(app, "#rollout-gates")
        (op,) = app.journal.running()

        await pilot.press("s")  # the keys answer while the watch runs; each word is confirmed
        await confirm(pilot)
        await wait_for(pilot, lambda: "paused: no step moves until resume" in text(app, "#rollout-head"), timeout=15)
        assert "‖50%" in text(app, "#rollout-steps")
        await pilot.press("s")
        await confirm(pilot)
        await wait_for(pilot, lambda: "resumed" in text(app, "#rollout-story-text"), timeout=15)
        await pilot.press("p")
        await confirm(pilot)
        await wait_for(pilot, lambda: text(app, "#rollout-head").splitlines()[-1].startswith("promoted"), timeout=30)
        assert "»50% ✓100%" in text(app, "#rollout-steps")  # promoted before its gates were read
        story = text(app, "#rollout-story-text")
        assert "promote asked by" not in story and "promoted by a person at 50%" in story
        assert app.journal.get(op.id).state is OpState.OK  # type: ignore[union-attr]

        app.run_command_line("ops")  # a view asked for from the panel: the view, not the panel again
        await wait_for(pilot, lambda: not isinstance(app.screen, RolloutScreen)
                       and bool(app.screen.query("#operations-table")))
        table = app.screen.query_one("#operations-table", VirtualTable)
        await wait_for(pilot, lambda: table.row(op.id) is not None)
        table.move_to(op.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RolloutScreen))
        await wait_for(pilot, lambda: "promoted" in text(app, "#rollout-head"))
        await pilot.press("escape")  # back to where it was opened
        await wait_for(pilot, lambda: not isinstance(app.screen, RolloutScreen))
    # what the panel said is what the cluster holds
    assert model_env(kube) == "models:/llama-70b-chat/6" and canary_gone(kube)


@kubectl_missing
@prometheus_missing
async def test_the_panel_shows_a_bad_canary_failing_its_gates_and_rolling_back(
        kube: KubeFake, db: Path, prom_with_canaries: PromServer, tmp_path: Path) -> None:
    app = app_on(kube, db, prom_with_canaries, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, LINE + "--version 7 --interval 6s")  # three times slower, 6% errors
        await wait_for(pilot, lambda: not app.journal.running() and bool(app.journal.all()), timeout=90)
        await wait_for(pilot, lambda: "rolled back" in text(app, "#rollout-head"))
        gates = text(app, "#rollout-gates")
        assert "1/1" in gates  # the failing gate, at its limit
        sides = text(app, "#rollout-sides").splitlines()
        errors = next(line for line in sides if line.startswith("errors")).split()
        assert float(errors[1].rstrip("%")) > 5 and float(errors[2].rstrip("%")) < 1  # canary beside stable
        assert "✗50%" in text(app, "#rollout-steps")
    assert model_env(kube) == "models:/llama-70b-chat/8" and canary_gone(kube)  # the stable never changed


# -- snapshots: the panel drawn from a record, as for a rollout a script runs on the bastion -------
@pytest.fixture
def snap_app(kube: KubeFake, tmp_path: Path) -> Any:
    def build(story: list[Any], outcome: tuple[str, str, str | None] | None, alive: bool = False) -> CockpitApp:
        audit = tmp_path / "audit.jsonl"
        write(audit, "7011bac0ffee", story, outcome=outcome, alive=alive)
        config = demo_config(kube=kube, audit_path=audit)
        config = replace(config, sources=tuple(s for s in config.sources if s.kind != "local"))
        return make_app(audit, config=config, start_view="operations")

    return build


def opened(op_id: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        pilot.app.open_rollout(op_id)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RolloutScreen))
        await workers_done(pilot, "rollout-log")  # the record, read in a worker
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollout_panel_in_progress(snap_compare, snap_app, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = snap_app(IN_PROGRESS, None, alive=True)
    assert snap_compare(app, terminal_size=size, run_before=opened("7011bac0ffee"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollout_panel_promoted(snap_compare, snap_app, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = snap_app(PROMOTED, ("09:29:03", "ok", None))
    assert snap_compare(app, terminal_size=size, run_before=opened("7011bac0ffee"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollout_panel_rolled_back(snap_compare, snap_app, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = snap_app(ROLLED_BACK, ("09:30:00", "rolled back", "gpu-prod/inference/llama-70b: rolled back at 50%: "
                                 "error_rate < 1%: 6.1% FAILS; p95 < 3s: 4990ms FAILS (failed 2 of 2)"))
    assert snap_compare(app, terminal_size=size, run_before=opened("7011bac0ffee"))
