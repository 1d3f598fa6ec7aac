"""Stale is marked: when the Prometheus the figures came from stops answering, every screen that shows
them says so (a mark on each cell, the reason and the time first in the summary), and unknown is
never printed as zero."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from cockpit.freshness import judge
from cockpit.sandbox import demo_config, prom_source
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer, free_port
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import FIXED_NOW
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.ui_helpers import loaded, make_app, wait_for, workers_done


def test_freshness_judges_errors_and_age() -> None:
    now = FIXED_NOW
    assert not judge(now, now, 10, None).stale
    assert not judge(now - timedelta(seconds=20), now, 10, None).stale  # two intervals: still fresh
    old = judge(now - timedelta(seconds=21), now, 10, None)
    assert old.stale and old.why == "not refreshed for 21s"
    down = judge(now, now, 10, "prom: cannot reach Prometheus")
    assert down.stale and down.describe() == "stale, as of 09:30:00 (prom: cannot reach Prometheus)"
    never = judge(None, now, 10, "prom: cannot reach Prometheus")
    assert not never.stale and never.describe() == "never answered"  # unknown, not stale figures


def _cells(t: VirtualTable, key: str) -> tuple[str, ...]:
    row = t.row(key)
    assert row is not None, f"no row {key}"
    return row.cells


def _column(t: VirtualTable, key: str) -> int:
    return [c.key for c in t.columns].index(key)


@prometheus_missing
@kubectl_missing
async def test_killing_prometheus_marks_every_screen_stale(kube: KubeFake, tmp_path: Path) -> None:
    server = PromServer(tmp_path / "prom", steady=True, history_s=420, scrape_s=2.0).start()
    try:
        server.wait_for_data('up{job="dcgm-demo"} == 1')
        time.sleep(max(0.0, server.started + 6 - time.time()))  # rate() needs two live scrapes
        base = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl")
        config = replace(base, sources=(*base.sources, prom_source("prom", server.url, window="15m")))
        app = make_app(tmp_path / "audit.jsonl", config=config, start_view="machines")
        async with app.run_test(size=(200, 50)) as pilot:
            await loaded(pilot)
            machines = app.screen.query_one("#machines-table", VirtualTable)
            gutil = _column(machines, "gutil")
            await wait_for(pilot, lambda: _cells(machines, "rack-a/a100-node-01")[gutil] == "88%")
            assert "stale" not in str(app.screen.query_one("#machines-summary").render())

            server.stop()  # the source dies while the UI is up
            # the adapter answers from its last range queries until their 5 s boundary passes: the
            # next poll after that is a real call, and fails
            while app.hub.health("prom").state.value != "down":
                app.request_poll(0)
                await workers_done(pilot, "poll")
                await loaded(pilot)

            assert _cells(machines, "rack-a/a100-node-01")[gutil] == "~88%"  # the old figure, marked
            style = machines.columns[gutil].style
            assert style is not None and style("~88%") == "vt--warn"  # in the warning colour
            summary = str(app.screen.query_one("#machines-summary").render())
            # the time before the reason: a line cut at the screen's edge keeps when the figures are from
            assert summary.startswith("~ stale figures: prom as of 09:30:00 (prom: cannot reach Prometheus at ")

            await pilot.press("3")
            await wait_for(pilot, lambda: app.screen.query("#nodes-table"))
            nodes = app.screen.query_one("#nodes-table", VirtualTable)
            assert _cells(nodes, "gpu-prod/h100-01")[_column(nodes, "gutil")] == "~93%"
            assert _cells(nodes, "gpu-prod/cpu-01")[_column(nodes, "gutil")] == "-"  # unknown stays unknown

            await pilot.press("5")
            await wait_for(pilot, lambda: app.screen.query("#deployments-table"))
            deploys = app.screen.query_one("#deployments-table", VirtualTable)
            llama = _cells(deploys, "deploy:gpu-prod/inference/llama-70b")
            assert llama[_column(deploys, "rps")].startswith("~") and llama[_column(deploys, "p95")].startswith("~")

            await pilot.press("1")
            await wait_for(pilot, lambda: app.screen.query("#overview-sources"))
            problems = str(app.screen.query_one("#overview-problems").render())  # down: a problem, first
            assert "prom prometheus down since 09:30:00: prom: cannot reach Prometheus at " in problems

            await pilot.press("7")
            await wait_for(pilot, lambda: app.screen.query("#metrics-table"))
            app.request_metrics_poll()
            await workers_done(pilot, "metrics", "poll")
            metrics = app.screen.query_one("#metrics-table", VirtualTable)
            await wait_for(pilot, lambda: metrics.row("prom/gpu_util/gpu-prod/h100-01/gpu0") is not None)
            assert _cells(metrics, "prom/gpu_util/gpu-prod/h100-01/gpu0")[3] == "~93%"
            summary = str(app.screen.query_one("#metrics-summary").render())
            assert summary.startswith("~ STALE prom: 74 GPUs, 7 workloads")
            assert "stale, as of 09:30:00 (prom: cannot reach Prometheus at " in summary
    finally:
        server.stop()


async def test_idle_gpus_from_a_prometheus_that_is_down_are_unknown_not_zero(tmp_path: Path) -> None:
    from screens.costs import IDLE_GPUS

    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = replace(base, sources=(*(s for s in base.sources if s.kind == "libvirt"), prom_source("prom", dead)))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="costs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        while app.screen.group != IDLE_GPUS:  # type: ignore[attr-defined]
            await pilot.press("b")
        await workers_done(pilot, "waste")
        await pilot.pause()
        summary = str(app.screen.query_one("#costs-summary").render())
        assert summary.startswith("idle GPUs unknown: prom: cannot reach Prometheus at "), summary
        assert "0 of 0" not in summary
        empty = app.screen.query_one("#costs-table", VirtualTable).empty_text
        assert empty.startswith("prom: cannot reach Prometheus at "), empty  # not "no idle GPUs"
