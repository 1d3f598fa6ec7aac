"""`cost spend`: AWS Cost Explorer through boto3 against moto (answers queued through moto's own
API, as the demo does), Azure Cost Management through azure-mgmt-costmanagement against the ARM
fake (pages, a subscription that fails, a refusal), Compute Engine said as not read; figures
computed by hand."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.commands.registry import Context
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.prices import bundled
from cockpit.sandbox.aws import MotoServer, aws_source
from cockpit.sandbox.aws_costs import cost_results, fleet_hourly, preload_costs
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, ArmFake
from cockpit.sandbox.gcp import GceFake
from cockpit.state.spend import forget
from tests.cloud_helpers import (
    OTHER_SUBSCRIPTION,
    arm,
    arm_settings,
    creds,
    gce,
    gce_settings,
    moto_server,
)
from tests.conftest import FIXED_NOW

__all__ = ["arm", "creds", "gce", "moto_server"]

HOURS_LEFT = 7 * 24 + 14.5
"""From FIXED_NOW (2026-11-23 09:30 UTC) to December."""


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget()
    yield
    forget()


def context(tmp_path: Path, *sources: SourceConfig) -> Context:
    config = Config(sources=sources, audit_path=tmp_path / "audit.jsonl")
    return Context(hub=Hub(config, now=lambda: FIXED_NOW), audit=AuditLog(config.audit_path), origin="script")


def queue(server: MotoServer, *results: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{server.url}/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": list(results)}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def day(start: str, groups: dict[str, float], estimated: bool = False) -> dict[str, Any]:
    return {"TimePeriod": {"Start": start, "End": start}, "Total": {}, "Estimated": estimated,
            "Groups": [{"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
                       for k, v in groups.items()]}


EC2, S3 = "Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service"


def test_aws_month_to_date_from_cost_explorer_with_the_forecast(tmp_path: Path, moto_server: MotoServer) -> None:
    queue(moto_server, {"ResultsByTime": [day("2026-11-21", {EC2: 100.25, S3: 3.10}),
                                          day("2026-11-22", {EC2: 110.50, S3: 3.20}),
                                          day("2026-11-23", {EC2: 40.0}, estimated=True)]})
    ctx = context(tmp_path, aws_source("aws", moto_server.url, regions=("us-east-1",)))
    try:
        result = build_registry().run_line("cost spend", ctx)
        assert result.status == "ok", result
        (aws,) = result.outcome.data["sources"]  # type: ignore[union-attr]
        assert aws["charged"] == pytest.approx(257.05) and aws["estimated"] is True
        assert aws["api"] == "AWS Cost Explorer" and aws["scope"] == "the whole account"
        # the burn now: the demo fleet's running instances in us-east-1 at the bundled prices (the
        # bastion's t3.large has no bundled price and is not counted)
        offers = bundled().offers
        assert ("aws", "t3.large", "us-east-1") not in offers
        burn = 2 * offers["aws", "p4d.24xlarge", "us-east-1"].spot + offers["aws", "g5.xlarge", "us-east-1"].on_demand  # type: ignore[operator]
        assert aws["burn_hourly_usd"] == pytest.approx(burn)
        assert aws["month_forecast"] == pytest.approx(round(257.05 + burn * HOURS_LEFT, 2))
        assert result.outcome.table.rows[0][:3] == ("aws", "AWS Cost Explorer", "$257.05")  # type: ignore[union-attr]
        assert "estimated" in result.outcome.table.rows[0][4]  # type: ignore[union-attr]
        by = build_registry().run_line("cost spend --by service", ctx)
        assert by.outcome.table.rows == (("aws", EC2, "$250.75", "98%"),  # type: ignore[union-attr]
                                         ("aws", S3, "$6.30", "2%"))
        days = build_registry().run_line("cost spend --by day", ctx)
        assert [r[1:] for r in days.outcome.table.rows] == [  # type: ignore[union-attr]
            ("2026-11-21", "$103.35"), ("2026-11-22", "$113.70"), ("2026-11-23", "$40.00")]
    finally:
        ctx.hub.close()


def test_the_demo_preload_answers_any_window(tmp_path: Path, moto_server: MotoServer) -> None:
    """The demo queues its two months once per window, and the adapter keeps the days asked for."""
    preload_costs(moto_server.url, FIXED_NOW)
    history = cost_results(FIXED_NOW.date(), fleet_hourly(), 9.5)["ResultsByTime"]

    def charged(first: int) -> float:
        return sum(float(g["Metrics"]["UnblendedCost"]["Amount"]) for r in history
                   if date(2026, 11, first) <= date.fromisoformat(r["TimePeriod"]["Start"]) for g in r["Groups"])

    ctx = context(tmp_path, aws_source("aws", moto_server.url, regions=("us-east-1",)))
    try:
        month = build_registry().run_line("cost spend", ctx).outcome.data["sources"][0]  # type: ignore[union-attr]
        week = build_registry().run_line("cost spend --days 7", ctx).outcome.data["sources"][0]  # type: ignore[union-attr]
        assert [d["day"] for d in month["by_day"]] == [f"2026-11-{d:02}" for d in range(1, 24)]
        assert [d["day"] for d in week["by_day"]] == [f"2026-11-{d}" for d in range(17, 24)]
        assert (month["charged"], week["charged"]) == (pytest.approx(charged(1)), pytest.approx(charged(17)))
        assert month["by_service"][0]["service"] == EC2
    finally:
        ctx.hub.close()


def test_azure_from_cost_management_pages_and_a_failing_subscription(tmp_path: Path, arm: ArmFake) -> None:
    arm.charges[DEMO_SUBSCRIPTION][:] = [(date(2026, 10, 31), "Virtual Machines", 999.0)] + [
        row for d in range(1, 24) for row in ((date(2026, 11, d), "Virtual Machines", 50.0 + d),
                                              (date(2026, 11, d), "Storage", 2.5))]
    del arm.charges[OTHER_SUBSCRIPTION]  # Cost Management answers 404 for it
    settings = arm_settings(arm, tmp_path) | {"subscriptions": [DEMO_SUBSCRIPTION, OTHER_SUBSCRIPTION]}
    ctx = context(tmp_path, SourceConfig("azure", "azure", timeout_seconds=30, settings=settings))
    try:
        result = build_registry().run_line("cost spend --by service", ctx)
        assert result.status == "ok", result
        # 23 days x (50 + day) + 23 x 2.5: 1150 + 276 + 57.5; October's row is outside the window
        (azure,) = result.outcome.data["sources"]  # type: ignore[union-attr]
        assert azure["charged"] == pytest.approx(1483.5)
        assert result.outcome.table.rows == (  # type: ignore[union-attr]
            ("azure", "Virtual Machines", "$1,426", "96%"), ("azure", "Storage", "$57.50", "4%"))
        assert azure["missing"] == [{"scope": OTHER_SUBSCRIPTION,
                                     "why": f"Subscription {OTHER_SUBSCRIPTION} was not found."}]
        asked = [p for m, p in arm.requests if m == "POST" and DEMO_SUBSCRIPTION in p and "CostManagement" in p]
        assert len(asked) == 3  # 46 rows, 20 a page: nextLink followed twice
        again = build_registry().run_line("cost spend", ctx)
        assert again.outcome.table.rows[0][2] == "$1,484"  # type: ignore[union-attr]
        assert "missing: Subscription" in again.outcome.table.rows[0][4]  # type: ignore[union-attr]
        assert len([p for m, p in arm.requests if m == "POST" and "CostManagement" in p]) == 4  # kept an hour
    finally:
        ctx.hub.close()


def test_a_refusal_is_one_line_and_gcp_is_said_not_read(tmp_path: Path, arm: ArmFake, gce: GceFake) -> None:
    arm.fail("Microsoft.CostManagement", 403, count=10, message="no Cost Management Reader role")
    ctx = context(tmp_path, SourceConfig("azure", "azure", timeout_seconds=30, settings=arm_settings(arm, tmp_path)),
                  SourceConfig("gcp", "gcp", timeout_seconds=30, settings=gce_settings(gce)))
    try:
        result = build_registry().run_line("cost spend", ctx)
        assert result.status == "failed"
        assert result.error == (f"azure: {DEMO_SUBSCRIPTION}: not allowed to read Cost Management "
                                "(Microsoft.CostManagement/query/read) (AuthorizationFailed)")
        (gcp,) = result.outcome.table.rows  # type: ignore[union-attr]
        assert gcp[:3] == ("gcp", "-", "not read") and "Cloud Billing export to BigQuery" in gcp[4]
        bad = build_registry().run_line("cost spend --days 400", ctx)
        assert bad.status == "invalid" and bad.error == "--days: 400 is not between 1 and 366"
    finally:
        ctx.hub.close()


def test_two_hubs_never_share_a_kept_answer(tmp_path: Path, arm: ArmFake) -> None:
    """Answers are kept an hour, by hub: a second hub (another test, another config) asks the
    billing itself, while the first still answers from what it kept."""
    del arm.charges[OTHER_SUBSCRIPTION]
    arm.charges[DEMO_SUBSCRIPTION][:] = [(date(2026, 11, 2), "Virtual Machines", 100.0)]
    settings = arm_settings(arm, tmp_path)
    first = context(tmp_path, SourceConfig("azure", "azure", timeout_seconds=30, settings=settings))
    second = context(tmp_path, SourceConfig("azure", "azure", timeout_seconds=30, settings=settings))
    try:
        def charged(ctx: Context) -> float:
            result = build_registry().run_line("cost spend", ctx)
            assert result.status == "ok", result
            return float(result.outcome.data["sources"][0]["charged"])  # type: ignore[union-attr]

        assert charged(first) == pytest.approx(100.0)
        arm.charges[DEMO_SUBSCRIPTION][:] = [(date(2026, 11, 2), "Virtual Machines", 250.0)]
        assert charged(second) == pytest.approx(250.0)  # asked, not the first hub's answer
        assert charged(first) == pytest.approx(100.0)  # the first hub's kept answer
    finally:
        first.hub.close()
        second.hub.close()


def test_an_answer_is_kept_an_hour_on_the_hubs_clock(tmp_path: Path, arm: ArmFake) -> None:
    """Billing APIs charge per request and refresh a few times a day: one answer is reused for an
    hour, measured on the hub's clock (injected here from 0 minutes), never the time since boot."""
    clock = [FIXED_NOW]
    config = Config(sources=(SourceConfig("azure", "azure", timeout_seconds=30, settings=arm_settings(arm, tmp_path)),),
                    audit_path=tmp_path / "audit.jsonl")
    ctx = Context(hub=Hub(config, now=lambda: clock[0]), audit=AuditLog(config.audit_path), origin="script")

    def asked() -> int:
        return len([p for m, p in arm.requests if m == "POST" and "CostManagement" in p])

    try:
        assert build_registry().run_line("cost spend", ctx).status == "ok"
        first = asked()
        clock[0] = FIXED_NOW + timedelta(minutes=59)
        assert build_registry().run_line("cost spend", ctx).status == "ok"
        assert asked() == first  # kept
        clock[0] = FIXED_NOW + timedelta(minutes=61)
        assert build_registry().run_line("cost spend", ctx).status == "ok"
        assert asked() > first  # asked again once an hour old
    finally:
        ctx.hub.close()
