"""Idle waste: the peak utilisation query against Debian's real Prometheus scraping the steady
exporter (each GPU at its fleet figure), joined to the demo's cluster and HPC machines, with the
figures computed by hand from the on-prem model's defaults."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.commands.registry import Context
from cockpit.hub import Hub
from cockpit.sandbox import demo_config, prom_source
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.conftest import FIXED_NOW


def test_idle_gpus_priced_with_their_holders(kube: KubeFake, prom: PromServer, tmp_path: Path) -> None:
    base = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl")
    config = replace(base, sources=(*(s for s in base.sources if s.kind != "local"), prom_source("prom", prom.url)))
    hub = Hub(config, now=lambda: FIXED_NOW)
    try:
        ctx = Context(hub=hub, audit=AuditLog(config.audit_path), origin="script")
        result = build_registry().run_line("cost idle --window 5m", ctx)
        assert result.status == "ok", result
        data = result.outcome.data  # type: ignore[union-attr]
        # the steady fleet's idle GPUs: l4-01 (2%), l40s-02 (3%, gpu-eu: not configured here), the HPC VM
        # a100-node-02 (1%) and the EC2 instance batch-embed (2%, no EC2 source here)
        idle = {(g["where"], g["gpu"]): g for g in data["idle"]}
        assert {w for w, _ in idle} == {"gpu-prod/l4-01", "rack-a/a100-node-02", "l40s-02", "batch-embed"}
        # l4-01: bare metal, the on-prem model splits at its own rates: an L4 is $0.40/h, $9.60/day
        l4 = idle["gpu-prod/l4-01", "0"]
        assert (l4["peak_percent"], l4["hourly_usd"], l4["daily_usd"]) == (2.0, pytest.approx(0.40), 9.6)
        assert l4["holders"] == ["no pod holds GPUs"]
        vm = idle["rack-a/a100-node-02", "1"]
        assert vm["hourly_usd"] == pytest.approx(1.30) and vm["holders"] == ["rack-a/a100-node-02"]
        assert idle["batch-embed", "0"]["why"] == "no machine or node named batch-embed to price it by"
        assert data["gpus_checked"] == 74 and data["window"] == "5m" and data["threshold_percent"] == 5.0
        assert data["hourly_usd"] == pytest.approx(4 * 0.40 + 2 * 1.30)
        assert data["daily_usd"] == pytest.approx(24 * 4.20)
        assert [(g["where"], g["gpu"]) for g in data["idle"]][:2] == [("rack-a/a100-node-02", "0"),
                                                                      ("rack-a/a100-node-02", "1")]
        # a higher threshold takes in the A100s at 41%
        wider = build_registry().run_line("cost idle --window 5m --threshold 50", ctx)
        assert any(g["where"] == "gpu-prod/a100-02" for g in wider.outcome.data["idle"])  # type: ignore[union-attr]
        bad = build_registry().run_line("cost idle --threshold 150", ctx)
        assert bad.status == "invalid" and "--threshold: 150 is out of range (0..100)" in str(bad.error)
    finally:
        hub.close()


async def test_the_costs_screen_lists_idle_gpus(kube: KubeFake, prom: PromServer, tmp_path: Path) -> None:
    from screens.widgets.virtual_table import VirtualTable
    from tests.ui_helpers import loaded, make_app, wait_for

    base = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl")
    config = replace(base, sources=(*(s for s in base.sources if s.kind != "local"), prom_source("prom", prom.url)))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="costs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press(*"bbbbbb")  # ... namespace -> workload -> idle GPUs
        t = app.screen.query_one("#costs-table", VirtualTable)
        await wait_for(pilot, lambda: t.row("idle:gpu-prod/l4-01/0") is not None, timeout=15)
        assert [c.label for c in t.columns][:4] == ["WHERE", "GPU", "MODEL", "PEAK"]
        row = t.row("idle:gpu-prod/l4-01/0")
        assert row is not None and row.cells == ("gpu-prod/l4-01", "0", "NVIDIA L4", "2.0%", "$0.400", "$288.00",
                                                 "10%", "no pod holds GPUs")  # 0.40 of 4.20 $/h
        assert t.row("idle:gpu-prod/a100-01/0") is None  # busy at 78%
        summary = str(app.screen.query_one("#costs-summary").render())
        assert "under 5% for 1h · waste $4.20/h, $100.80/day" in summary
        t.move_to("idle:rack-a/a100-node-02/0")
        await pilot.pause()
        detail = str(app.screen.query_one("#detail").render())
        assert "wasting  $1.30/h, $31.20/day" in detail and "rack-a/a100-node-02" in detail
        await pilot.press("b")  # spend: no cloud source here, and the empty table says where spend comes from
        assert t.columns[0].label == "SERVICE" and "AWS Cost Explorer" in t.empty_text
        await pilot.press("b", "b")  # budgets, then machines: the headings are the machines' again
        assert [c.label for c in t.columns][:2] == ["NAME", "SOURCE"]
