"""The Machines screen with libvirt, EC2, Compute Engine and Azure in one table: the same
columns and keys for all, filters by provider and tag, actions on each cloud read back through
its SDK, and snapshots of the mixed table at 80x24 and 120x40."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import NotFound as GoogleNotFound
from textual.widgets import Input

from cockpit.config import Config
from cockpit.sandbox import demo_config
from cockpit.sandbox.aws import MotoServer, aws_source
from cockpit.sandbox.azure import ArmFake
from cockpit.sandbox.gcp import DEMO_PROJECT, GceFake, gcp_source
from screens.widgets.dialogs import ConfirmScreen
from screens.widgets.virtual_table import VirtualTable
from tests.cloud_helpers import arm, arm_settings, creds, gce, moto_server
from tests.test_azure import power
from tests.test_gcp import sdk
from tests.ui_helpers import loaded, make_app, wait_for

__all__ = ["arm", "creds", "gce", "moto_server"]


def mixed(tmp_path: Path, moto: MotoServer, gce: GceFake, arm: ArmFake) -> Config:
    """The demo's two libvirt hosts and the three clouds; not this machine (it differs everywhere)."""
    from cockpit.config import SourceConfig

    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    azure = SourceConfig("azure", "azure", timeout_seconds=30, colour="cyan", label="azure",
                         settings=arm_settings(arm, tmp_path))
    return replace(base, sources=(*(s for s in base.sources if s.kind != "local"), aws_source("aws", moto.url),
                                  gcp_source("gcp", gce.url), azure))


def cells(table: VirtualTable, key: str) -> dict[str, str]:
    row = table.row(key)
    assert row is not None, key
    return dict(zip([c.key for c in table.columns], row.cells, strict=True))


async def test_one_table_same_keys_for_every_cloud(tmp_path: Path, moto_server: MotoServer, gce: GceFake,
                                                   arm: ArmFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="machines")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#machines-table", VirtualTable)
        assert {k.split("/")[0] for k in t.visible_keys()} == {"rack-a", "rack-b", "aws", "gcp", "azure"}
        nd = cells(t, "azure/nd-h100-0")
        assert (nd["provider"], nd["state"], nd["type"], nd["gpus"], nd["host"]) == (
            "azure", "running", "ND96isr_H100_v5", "8×H100", "eastus-1")
        a3 = cells(t, "gcp/a3-pretrain-0")
        assert (a3["provider"], a3["type"], a3["vcpus"], a3["gpus"]) == ("gcp", "a3-highgpu-8g spot", "208", "8×H100")
        assert cells(t, "aws/llm-pretrain-0")["type"] == "p4d.24xlarge spot"
        t.set_filter("spot")  # spot capacity in every cloud, by the words of its TYPE cell
        assert t.visible_keys() == ["aws/batch-embed", "aws/llm-pretrain-0", "aws/llm-pretrain-1",
                                    "azure/nc-a100-spot", "gcp/a3-pretrain-0"]
        t.set_filter("gcp team=research")  # a provider and a tag
        assert t.visible_keys() == ["gcp/a2-finetune", "gcp/t4-notebook"]
        t.set_filter("")

        t.move_to("azure/nv-a10-serve")
        await pilot.press("x")  # stop: on Azure, deallocate
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: cells(t, "azure/nv-a10-serve")["state"] == "stopped", timeout=15)
        assert power(arm, tmp_path, "serving", "nv-a10-serve") == "deallocated"

        t.move_to("gcp/ci-runner")
        await pilot.press("ctrl+d")  # terminate: the typed name confirms, nothing less
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = " ".join(str(w.render()) for w in app.screen.query("#dialog-body Static"))
        assert "Terminate gcp/ci-runner" in body and "deleted for good" in body and "disks marked autoDelete" in body
        await pilot.press(*"ci-runner", "enter")

        def gone() -> bool:
            try:
                sdk(gce).get(project=DEMO_PROJECT, zone="europe-west4-a", instance="ci-runner")
            except GoogleNotFound:
                return True
            return False

        await wait_for(pilot, gone, timeout=15)
        await wait_for(pilot, lambda: t.row("gcp/ci-runner") is None, timeout=15)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_mixed_machines_snapshot(snap_compare: Any, size: tuple[int, int], tmp_path: Path,
                                 moto_server: MotoServer, gce: GceFake, arm: ArmFake) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        # an Azure row: the detail pane of an EC2 row would show moto's random addresses
        pilot.app.screen.query_one("#machines-table", VirtualTable).move_to("azure/nd-h100-0")
        await pilot.pause(0.2)

    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="machines")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_the_overview_lists_host_gpus_only_for_passthrough_hosts(tmp_path: Path, moto_server: MotoServer,
                                                                      gce: GceFake, arm: ArmFake) -> None:
    """The clouds run p4d and H100s: their GPUs come with instance types, so the Host GPUs list
    (PCI passthrough) names only the libvirt hosts and never says a cloud's host has no GPUs."""
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="overview")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        text = str(app.screen.query_one("#overview-gpus").render())
        assert "rack-a  8×A100" in text and "rack-b  8×H100" in text
        assert not any(cloud in text for cloud in ("aws", "gcp", "azure")) and "PCI device list" not in text


async def test_provision_form_plans_confirms_and_creates(tmp_path: Path, moto_server: MotoServer, gce: GceFake,
                                                         arm: ArmFake) -> None:
    from screens.widgets.provision_form import ProvisionScreen

    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#machines-table", VirtualTable)
        t.move_to("gcp/l4-serve-0")
        await pilot.press("n")  # the form of the source under the cursor: Compute Engine's fields
        await wait_for(pilot, lambda: isinstance(app.screen, ProvisionScreen) and bool(app.screen.query("#f-where")))
        form = app.screen
        assert isinstance(form, ProvisionScreen) and form.kind == "gcp"
        here = app.inventory.find("gcp/l4-serve-0")
        assert here is not None and form.values()["where"] == here.location  # the zone of the row under the cursor
        await pilot.press("enter")  # the rest not filled in: the form says what is required, and stays
        await pilot.pause(0.1)
        assert "required: machine type, image, name" in str(form.query_one("#form-error").render())
        assert app.screen is form
        form.query_one("#f-where", Input).value = ""
        form.query_one("#f-where", Input).focus()
        await pilot.press(*"us-central1-b", "tab", *"g2-standard-4", "tab", *"family/debian-12", "tab",
                          *"serve", "tab", "2", "tab", "space")  # count 2, spot
        assert form.line() == ("vm provision gcp/us-central1-b --type g2-standard-4 --image family/debian-12 "
                               "--name serve --count 2 --spot")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=15)
        body = " ".join(str(w.render()) for w in app.screen.query("#dialog-body Static"))
        assert ("Provision 2 × g2-standard-4 (4 vCPU, 16G, 1×L4) in gcp/us-central1-b as serve-0 .. serve-1, spot, "
                "image family/debian-12; $0.282/h each, $0.564/h for 2 spot (bundled catalogue") in body
        await pilot.press("y")

        def created() -> str:
            try:
                got = sdk(gce).get(project=DEMO_PROJECT, zone="us-central1-b", instance="serve-1")
            except GoogleNotFound:
                return ""
            return f"{got.status} {got.scheduling.provisioning_model}"

        await wait_for(pilot, lambda: created() == "RUNNING SPOT", timeout=20)
        await wait_for(pilot, lambda: t.row("gcp/serve-0") is not None, timeout=15)


def test_form_lines_per_kind() -> None:
    from screens.widgets.provision_form import command_line

    assert command_line("azure", "azure", {
        "where": "eastus", "--type": "Standard_NC24ads_A100_v4", "--image": "Canonical:ubuntu-24_04-lts:server:latest",
        "--name": "ft", "--spot": True, "--fallback": True, "--max-price": "1.2", "--group": "ml-train",
        "--subnet": "/subscriptions/x/subnets/default", "--ssh-key": "~/.ssh/id ed.pub", "--tag": "team=ml env=dev",
    }) == ("vm provision azure/eastus --type Standard_NC24ads_A100_v4 --image Canonical:ubuntu-24_04-lts:server:latest "
           "--name ft --spot --fallback on-demand --max-price 1.2 --group ml-train --subnet "
           "/subscriptions/x/subnets/default --ssh-key '~/.ssh/id ed.pub' --tag team=ml --tag env=dev")
    assert command_line("rack-a", "libvirt", {"where": "vm1", "--template": "gpu-small", "--gpu": "65:00.0 66:00.0",
                                              "--start": True}) == (
        "vm provision rack-a/vm1 --template gpu-small --gpu 65:00.0 --gpu 66:00.0 --start")


async def test_costs_screen_prices_every_cloud_and_groups(tmp_path: Path, moto_server: MotoServer, gce: GceFake,
                                                          arm: ArmFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="costs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#costs-table", VirtualTable)
        # the top spender first: azure,Standard_ND96isr_H100_v5,...,eastus,98.32
        assert t.visible_keys()[0] == "azure/nd-h100-0"
        assert cells(t, "azure/nd-h100-0")["hourly"] == "$98.32"
        assert cells(t, "gcp/a3-pretrain-0")["hourly"] == "$20.20"  # gcp,a3-highgpu-8g,...,us-central1 spot 20.19945
        assert cells(t, "aws/llm-pretrain-0")["basis"] == "spot"  # aws,p4d.24xlarge,...,us-east-1 spot 5.0933
        assert cells(t, "aws/bastion")["hourly"] == "no price"
        assert cells(t, "aws/bastion")["basis"] == "no price for t3.large in us-east-1 (bundled catalogue)"
        assert cells(t, "azure/t4-batch")["hourly"] == "off"  # deallocated: no compute bill
        summary = str(app.screen.query_one("#costs-summary").render())
        assert "2 without a price (not counted)" in summary and "bundled catalogue of 2026-11-23" in summary
        await pilot.press("b")  # by provider
        assert t.visible_keys()[0] == "provider:azure"
        await pilot.press("b", "b")  # by region
        assert "region:eastus" in t.visible_keys() and "region:gpu-host-a" in t.visible_keys()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_mixed_costs_snapshot(snap_compare: Any, size: tuple[int, int], tmp_path: Path,
                              moto_server: MotoServer, gce: GceFake, arm: ArmFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm), start_view="costs")
    assert snap_compare(app, terminal_size=size, run_before=loaded)
