"""The Costs screen's spend grouping (Cost Explorer in moto, Cost Management on the ARM fake,
Compute Engine not read) and its comparator dialog, from the offers to a filled-in provision form."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input

from cockpit import format as fmt
from cockpit.prices import bundled, current
from cockpit.sandbox import demo_config
from cockpit.sandbox.aws import MotoServer, aws_source
from cockpit.sandbox.aws_costs import cost_results, fleet_hourly, preload_costs
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, ArmFake
from cockpit.sandbox.gcp import GceFake
from cockpit.spend import month_forecast
from screens.costs import CostsScreen
from screens.widgets.compare_form import CompareScreen
from screens.widgets.provision_form import ProvisionScreen
from screens.widgets.virtual_table import VirtualTable
from tests.cloud_helpers import arm, creds, gce, moto_server
from tests.conftest import FIXED_NOW
from tests.test_clouds_ui import cells, mixed
from tests.ui_helpers import loaded, make_app, wait_for, workers_done

__all__ = ["arm", "creds", "gce", "moto_server"]


def azure_burn() -> float:
    """The demo subscription's running VMs at the bundled prices (the spot one at its spot price)."""
    offers = bundled().offers
    return (offers["azure", "Standard_ND96isr_H100_v5", "eastus"].on_demand  # type: ignore[operator]
            + offers["azure", "Standard_NC24ads_A100_v4", "eastus"].spot
            + offers["azure", "Standard_NV36ads_A10_v5", "westus2"].on_demand
            + offers["azure", "Standard_D4s_v5", "westus2"].on_demand)


async def test_spend_grouping_then_compare_and_provision(tmp_path: Path, moto_server: MotoServer, gce: GceFake,
                                                         arm: ArmFake) -> None:
    preload_costs(moto_server.url, FIXED_NOW)
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="costs")
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        await pilot.press(*"b" * 7)  # machine, provider, source, region, namespace, workload, idle GPUs: spend
        t = app.screen.query_one("#costs-table", VirtualTable)
        await wait_for(pilot, lambda: t.row("spend:azure") is not None, timeout=20)
        assert [c.label for c in t.columns][:6] == ["SERVICE", "SOURCE", "FROM", "", "CHARGED", "MONTH FCST"]
        charged = sum(c for _, _, c in arm.charges[DEMO_SUBSCRIPTION])
        azure = cells(t, "spend:azure")
        assert (azure["hourly"], azure["month"]) == (
            fmt.dollars(charged), fmt.dollars(month_forecast(charged, azure_burn(), FIXED_NOW) or 0.0))
        assert cells(t, "spend:azure:Virtual Machines")["share"] == "99%"
        history = cost_results(FIXED_NOW.date(), fleet_hourly(), 9.5)["ResultsByTime"]
        aws_charged = sum(float(g["Metrics"]["UnblendedCost"]["Amount"]) for r in history
                          if date.fromisoformat(r["TimePeriod"]["Start"]) >= date(2026, 11, 1) for g in r["Groups"])
        assert cells(t, "spend:aws")["hourly"] == fmt.dollars(aws_charged)
        gcp = cells(t, "spend:gcp")
        assert gcp["type"] == "not read" and "billing export" in gcp["basis"].lower()
        summary = str(app.screen.query_one("#costs-summary").render())
        assert summary.startswith(f"charged {fmt.dollars(charged + aws_charged)} this month") and "not read: gcp" in \
            summary
        t.move_to("spend:azure")
        await pilot.pause()
        detail = str(app.screen.query_one("#detail").render())
        assert "Per day" in detail and "11-23" in detail and "burn now for the rest of the month" in detail

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        dialog = app.screen
        dialog.query_one("#c-gpu", Input).value = "H100"
        await pilot.press("enter")  # compares, and the offers take the focus
        offers = dialog.query_one("#compare-table", DataTable)
        assert offers.has_focus
        quotes = dialog.quotes  # type: ignore[attr-defined]
        assert quotes and [q.hourly for q in quotes] == sorted(q.hourly for q in quotes)
        assert all(q.machine_type and current().offers[q.cloud, q.machine_type, q.region].accelerator == "H100"
                   for q in quotes)
        first = [str(c) for c in offers.get_row_at(0)][1:]  # after whether it can be provisioned
        assert first[:4] == [quotes[0].cloud, quotes[0].region, quotes[0].machine_type, fmt.dollars(quotes[0].hourly)]
        dialog.query_one("#c-spot", Checkbox).value = True  # spot prices: compared again
        await pilot.pause()
        assert dialog.asked.spot and all(q.hourly == current().offers[  # type: ignore[attr-defined]
            q.cloud, q.machine_type, q.region].spot for q in dialog.quotes)  # type: ignore[attr-defined]
        quotes = dialog.quotes  # type: ignore[attr-defined]
        verdicts = dialog.verdicts  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: all((q.cloud, q.region, q.machine_type) in verdicts for q in quotes), timeout=30)
        marks = [str(offers.get_row_at(i)[0]) for i in range(len(quotes))]
        assert set(marks) - {"✓"}, "some spot H100 offers are in regions the configured sources do not reach"
        refused = next(i for i, m in enumerate(marks) if m != "✓")
        assert marks[refused] == "✗"
        offers.focus()
        offers.move_cursor(row=refused)
        await pilot.pause()
        q = quotes[refused]
        why = str(dialog.query_one("#compare-note").render())  # why not, for the offer under the cursor
        assert why == f"✗ {q.cloud} {q.region} {q.machine_type}: {verdicts[q.cloud, q.region, q.machine_type]}"
        await pilot.press("enter")  # an offer its cloud would refuse: said so, no form
        await pilot.pause()
        assert app.screen is dialog
        error = str(dialog.query_one("#form-error").render())
        assert "cannot be provisioned" in error and quotes[refused].machine_type in error

        good = marks.index("✓")
        chosen = quotes[good]
        offers.move_cursor(row=good)
        await pilot.press("enter")  # an offer its cloud sells there: its provision form, filled in
        await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen))
        form = app.screen
        assert form.kind == chosen.cloud  # type: ignore[attr-defined]
        assert form.query_one("#f-type", Input).value == chosen.machine_type
        assert form.query_one("#f-where", Input).value.startswith(chosen.region)
        assert form.query_one("#f-spot", Checkbox).value is True
        await pilot.press("escape")  # back to the offers, as they were
        await wait_for(pilot, lambda: app.screen is dialog)
        assert offers.cursor_row == good and str(dialog.query_one("#form-error").render()) == ""

        dialog.query_one("#c-gpu", Input).value = "A100"  # changed, then Enter on an offer: compared again first
        offers.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and dialog.asked.gpu == "A100"  # type: ignore[attr-defined]


async def test_spend_grouping_loads_on_a_machine_booted_this_instant(tmp_path: Path, moto_server: MotoServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """time.monotonic() counts from boot: on a clock still at 0, "never asked" must not read as
    "asked just now" (the billing was not asked for the first five minutes after a boot)."""
    monkeypatch.setattr(CostsScreen, "monotonic", staticmethod(lambda: 0.0))
    preload_costs(moto_server.url, FIXED_NOW)
    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    config = replace(base, sources=(aws_source("aws", moto_server.url),))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="costs")
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded(pilot)
        await pilot.press(*"b" * 7)  # machine, provider, source, region, namespace, workload, idle GPUs: spend
        await workers_done(pilot, "spend")
        await pilot.pause()
        t = app.screen.query_one("#costs-table", VirtualTable)
        assert [c.label for c in t.columns][:6] == ["SERVICE", "SOURCE", "FROM", "", "CHARGED", "MONTH FCST"]
        assert t.row("spend:aws") is not None
