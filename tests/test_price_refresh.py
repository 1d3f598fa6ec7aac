"""`cost catalogue refresh`: AWS through boto3's pricing and EC2 clients against a local Price List
and spot history fake (moto has neither), Azure through the retail prices API of the ARM fake;
what lands in the cache, what every figure then says, and a failing refresh that keeps the prices
it had and says so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import build_registry
from cockpit.commands.registry import Context
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.prices import bundled, cache_path, current
from cockpit.sandbox.aws import aws_source
from cockpit.sandbox.aws_prices import AwsPricesFake
from cockpit.sandbox.azure import ArmFake
from cockpit.sandbox.azure_prices import retail_items
from cockpit.sandbox.gcp import GceFake
from cockpit.sandbox.gcp_prices import PAGE
from cockpit.sandbox.gcp_prices import PATH as SKUS
from tests.cloud_helpers import MotoServer, arm, arm_settings, creds, gce, gce_settings, moto_server
from tests.conftest import FIXED_NOW

__all__ = ["arm", "creds", "gce", "moto_server"]


@pytest.fixture
def prices() -> Any:
    fake = AwsPricesFake.from_catalogue(bundled(), factor=1.1).start()
    yield fake
    fake.stop()


def context(tmp_path: Path, *sources: SourceConfig) -> Context:
    config = Config(sources=sources, audit_path=tmp_path / "audit.jsonl")
    return Context(hub=Hub(config, now=lambda: FIXED_NOW), audit=AuditLog(config.audit_path), origin="script")


def test_aws_refresh_from_the_price_list_api_and_spot_history(tmp_path: Path, moto_server: MotoServer,
                                                              prices: AwsPricesFake) -> None:
    src = aws_source("aws", moto_server.url, regions=("us-east-1",))
    src = replace(src, settings=dict(src.settings) | {"price_endpoint_url": prices.url})
    ctx = context(tmp_path, src)
    try:
        result = build_registry().run_line("cost catalogue refresh --cloud aws", ctx)
        assert result.status == "ok", result
        cat = current()
        # aws,g5.xlarge,A10G,1,4,16,us-east-1,1.006,0.397: the fake's market moved by 10%
        g5 = cat.offers["aws", "g5.xlarge", "us-east-1"]
        assert (g5.on_demand, g5.spot) == (pytest.approx(1.1066), pytest.approx(0.4367))
        assert (g5.vcpus, g5.memory_gib, g5.accelerator, g5.accelerator_count) == (4, 16.0, "A10G", 1)
        assert cat.describe(FIXED_NOW.date()) == ("bundled catalogue of 2026-11-23 (today); aws from the AWS Price "
                                                  "List API of 2026-11-23 (today)")
        cached = json.loads(cache_path().read_text())
        assert cached["clouds"]["aws"]["api"] == "AWS Price List API"
        # every bundled EC2 row with an on-demand price; the one without keeps its bundled row
        assert len(cached["clouds"]["aws"]["offers"]) == sum(1 for (c, _, _), o in bundled().offers.items()
                                                             if c == "aws" and o.on_demand is not None)
        # one GetProducts question per type and region, each answered a page at a time
        assert sum(1 for m, p in prices.requests if m == "POST") > 100
        # azure and gcp were not asked: their prices are the bundled ones still
        assert cat.offers["azure", "Standard_NC24ads_A100_v4", "eastus"] == \
            bundled().offers["azure", "Standard_NC24ads_A100_v4", "eastus"]
    finally:
        ctx.hub.close()


def test_a_failing_refresh_keeps_the_prices_it_had(tmp_path: Path, moto_server: MotoServer,
                                                  prices: AwsPricesFake) -> None:
    src = aws_source("aws", moto_server.url, regions=("us-east-1",))
    src = replace(src, settings=dict(src.settings) | {"price_endpoint_url": prices.url, "max_attempts": 2})
    ctx = context(tmp_path, src)
    try:
        assert build_registry().run_line("cost catalogue refresh --cloud aws", ctx).status == "ok"
        before = cache_path().read_text()
        prices.fail("/", 503, count=1000, message="Service Unavailable")
        result = build_registry().run_line("cost catalogue refresh --cloud aws", ctx)
        assert result.status == "failed"
        assert "aws: refresh failed (aws: us-east-1: read the Price List API and the spot price history: " in str(
            result.error)
        assert str(result.error).endswith("kept the AWS Price List API of 2026-11-23")
        assert cache_path().read_text() == before  # nothing lost
        assert current().offers["aws", "g5.xlarge", "us-east-1"].on_demand == pytest.approx(1.1066)
    finally:
        ctx.hub.close()


def test_azure_refresh_from_the_retail_prices_api(tmp_path: Path, arm: ArmFake) -> None:
    arm.retail[:] = retail_items(bundled(), factor=1.1)  # the market moved by 10%
    ctx = context(tmp_path, SourceConfig("azure", "azure", timeout_seconds=30, settings=arm_settings(arm, tmp_path)))
    try:
        result = build_registry().run_line("cost catalogue refresh --cloud azure", ctx)
        assert result.status == "ok", result
        nc = current().offers["azure", "Standard_NC24ads_A100_v4", "eastus"]
        old = bundled().offers["azure", "Standard_NC24ads_A100_v4", "eastus"]
        assert (nc.on_demand, nc.spot) == (pytest.approx(old.on_demand * 1.1), pytest.approx(old.spot * 1.1))
        # no credentials go to the public API; Windows and Low Priority meters are not Linux prices
        assert all(p.startswith("/api/retail/prices") for m, p in arm.requests if "retail" in p)
        gone = build_registry().run_line("cost catalogue refresh --cloud aws", ctx)
        assert gone.outcome.data["results"]["aws"] == "not refreshed: no aws source in the config"  # type: ignore[union-attr]
    finally:
        ctx.hub.close()


def test_gcp_refresh_composes_types_from_the_billing_catalogs_skus(tmp_path: Path, gce: GceFake) -> None:
    ctx = context(tmp_path, SourceConfig("gcp", "gcp", timeout_seconds=30, settings=gce_settings(gce)))
    try:
        result = build_registry().run_line("cost catalogue refresh --cloud gcp", ctx)
        assert result.status == "ok", result
        cat = current()
        # G2 in us-central1: 4 vCPUs x $0.025048 + 16 GiB x $0.0029125 + one L4 at $0.56004
        g2 = cat.offers["gcp", "g2-standard-4", "us-central1"]
        assert (g2.on_demand, g2.spot) == (pytest.approx(0.706832), pytest.approx(0.28184))
        assert (g2.vcpus, g2.memory_gib, g2.accelerator, g2.accelerator_count) == (4, 16.0, "L4", 1)
        # N2: the custom, sole-tenant and committed-use cores ($0.05) are not a plain instance's price
        assert cat.offers["gcp", "n2-standard-4", "us-central1"].on_demand == pytest.approx(0.194236)
        # a type the bundle lacks, in the shape Compute Engine's machineTypes gave: n1-standard-8 in
        # europe-west4 (x1.1): (8 x 0.031611 + 30 GiB x 0.004237) x 1.1, and its attached T4 row
        assert cat.offers["gcp", "n1-standard-8", "europe-west4"].on_demand == pytest.approx(0.417998)
        assert cat.offers["gcp", "gpu:T4:1", "europe-west4"].on_demand == pytest.approx(0.385)
        # no SKU for the H100 Mega: the bundled row stays
        assert cat.offers["gcp", "a3-megagpu-8g", "us-central1"] == bundled().offers["gcp", "a3-megagpu-8g",
                                                                                       "us-central1"]
        assert cat.describe(FIXED_NOW.date()).endswith("gcp from the Cloud Billing Catalog API of 2026-11-23 (today)")
        pages = -(-len(gce.skus) // PAGE)
        assert pages > 1 and sum(1 for _, p in gce.requests if p == SKUS) == pages  # every page, once
        gce.fail(SKUS, 503, count=100, message="backend error")
        failed = build_registry().run_line("cost catalogue refresh --cloud gcp", ctx)
        assert failed.status == "failed"
        assert str(failed.error).endswith("kept the Cloud Billing Catalog API of 2026-11-23")
        assert current().offers["gcp", "g2-standard-4", "us-central1"].on_demand == pytest.approx(0.706832)
    finally:
        ctx.hub.close()


def test_a_damaged_cache_is_said_and_the_bundled_prices_used() -> None:
    path = cache_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "clouds": {"aws": {"api": "x"')
    cat = current()
    assert cat.offers == bundled().offers and not cat.refreshed
    assert cat.describe(FIXED_NOW.date()).startswith(
        f"bundled catalogue of 2026-11-23 (today); refreshed prices unreadable ({path}: JSONDecodeError: ")
    assert cat.describe(FIXED_NOW.date()).endswith("bundled prices used")
