"""The cost engine on hand-built machines, with figures computed by hand from the bundled
catalogue's rows (quoted beside each) and the on-prem model's defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from cockpit.costs import OnPremModel, Rate, billed, burn, compare, machine_rate, node_provider, node_rate
from cockpit.model import GpuDevice, Machine, MachineState
from cockpit.model_kube import KubeNode
from cockpit.prices import Catalogue, bundled, read_offers
from cockpit.providers import region_of
from cockpit.sandbox import libvirt_uri
from tests.conftest import ROOT

CAT = bundled()
ONPREM = OnPremModel()


def vm(source: str, name: str, provider: str, location: str, kind: str | None, *, spot: bool = False,
       state: MachineState = MachineState.RUNNING, native: str = "running", gpus: tuple[GpuDevice, ...] = (),
       vcpus: int = 4, memory_mib: int = 16384) -> Machine:
    return Machine(source=source, name=name, provider=provider, location=location, state=state, native_state=native,
                   vcpus=vcpus, memory_mib=memory_mib, gpus=gpus, machine_type=kind,
                   lifecycle=None if provider == "libvirt" else ("spot" if spot else "on-demand"))


@pytest.mark.parametrize(("provider", "zone", "region"), [
    ("aws", "us-east-1a", "us-east-1"), ("aws", "us-west-2", "us-west-2"), ("gcp", "us-central1-a", "us-central1"),
    ("gcp", "europe-west4", "europe-west4"), ("azure", "eastus-1", "eastus"), ("azure", "westus2", "westus2"),
])
def test_regions_from_zones(provider: str, zone: str, region: str) -> None:
    assert region_of(provider, zone) == region


def test_machine_rates_from_the_catalogue_and_the_model() -> None:
    # aws,p4d.24xlarge,A100,8,96,1152,us-east-1,32.7726,5.0933
    assert machine_rate(vm("aws", "a", "aws", "us-east-1a", "p4d.24xlarge", spot=True), CAT, ONPREM).hourly == 5.0933
    assert machine_rate(vm("aws", "b", "aws", "us-east-1b", "p4d.24xlarge"), CAT, ONPREM).hourly == 32.7726
    # gcp,a2-highgpu-1g,A100,1,12,85,us-central1,3.67339,1.44296
    rate = machine_rate(vm("gcp", "c", "gcp", "us-central1-a", "a2-highgpu-1g"), CAT, ONPREM)
    assert (rate.hourly, rate.basis) == (3.67339, "on-demand")
    # azure,Standard_NC24ads_A100_v4,A100-80GB,1,24,220,eastus,3.673,0.444433
    spot = machine_rate(vm("az", "d", "azure", "eastus", "Standard_NC24ads_A100_v4", spot=True), CAT, ONPREM)
    assert (spot.hourly, spot.basis) == (0.444433, "spot")
    # on-prem: 4 A100 x 1.30 + 32 vCPU x 0.015 + 240 GiB x 0.002 = 5.20 + 0.48 + 0.48
    hpc = vm("rack-a", "e", "libvirt", "gpu-host-a", None, vcpus=32, memory_mib=240 * 1024,
             gpus=(GpuDevice("A100 SXM4 80GB"),) * 4)
    assert machine_rate(hpc, CAT, ONPREM) .hourly == pytest.approx(6.16) and machine_rate(hpc, CAT, ONPREM).basis == (
        "on-prem model")
    assert ONPREM.gpu_rate("NVIDIA L40S") == 0.90 and ONPREM.gpu_rate("L4") == 0.40 and ONPREM.gpu_rate("MI300X") == 1.0


def test_no_price_is_said_never_zero() -> None:
    unknown = machine_rate(vm("aws", "x", "aws", "us-east-1a", "t3.large"), CAT, ONPREM)
    assert (unknown.hourly, unknown.why) == (None, "no price for t3.large in us-east-1 (bundled catalogue)")
    elsewhere = machine_rate(vm("az", "y", "azure", "westeurope", "Standard_D4s_v5"), CAT, ONPREM)
    assert elsewhere.why == "no price for Standard_D4s_v5 in westeurope (bundled catalogue)"
    # aws p5e.48xlarge in us-west-2 has a spot price and no on-demand one in the source
    no_od = machine_rate(vm("aws", "z", "aws", "us-west-2a", "p5e.48xlarge"), CAT, ONPREM)
    assert no_od.why == "no on-demand price for p5e.48xlarge in us-west-2 (bundled catalogue)"
    n1 = machine_rate(vm("gcp", "n", "gcp", "europe-west4-a", "n1-standard-8", gpus=(GpuDevice("T4"),)), CAT, ONPREM)
    assert n1.why == "no price for n1-standard-8 in europe-west4 (bundled catalogue)"  # the host is not in it


def test_an_n1_host_plus_its_attached_gpus() -> None:
    cat = Catalogue("test", date(2026, 11, 1), read_offers([
        {"cloud": "gcp", "instance_type": "n1-standard-8", "accelerator": "", "accelerator_count": "", "vcpus": "8",
         "memory_gib": "30", "region": "europe-west4", "price_hour_usd": "0.4216", "spot_price_hour_usd": "0.0844"},
        {"cloud": "gcp", "instance_type": "", "accelerator": "T4", "accelerator_count": "2", "vcpus": "",
         "memory_gib": "", "region": "europe-west4", "price_hour_usd": "0.735", "spot_price_hour_usd": "0.28"},
    ]))
    two = (GpuDevice("T4"),) * 2
    assert machine_rate(vm("gcp", "n", "gcp", "europe-west4-b", "n1-standard-8", gpus=two), cat, ONPREM).hourly == \
        pytest.approx(0.4216 + 0.735)
    assert machine_rate(vm("gcp", "n", "gcp", "europe-west4-b", "n1-standard-8", gpus=two, spot=True), cat,
                        ONPREM).hourly == pytest.approx(0.0844 + 0.28)
    one = machine_rate(vm("gcp", "n", "gcp", "europe-west4-b", "n1-standard-8", gpus=two[:1]), cat, ONPREM)
    assert one.why == "no price for 1×T4 attached in europe-west4 (test catalogue)"
    assert cat.describe(date(2026, 11, 23)) == "test catalogue of 2026-11-01 (22 days old)"


def test_burn_totals_what_is_billed_and_lists_what_has_no_price() -> None:
    fleet = [
        vm("aws", "train", "aws", "us-east-1a", "p4d.24xlarge", spot=True),  # 5.0933
        vm("aws", "infer", "aws", "us-east-1c", "g5.xlarge"),  # aws,g5.xlarge,...,us-east-1,1.006,0.397
        vm("aws", "bastion", "aws", "us-east-1a", "t3.large"),  # no price: listed, not counted
        vm("aws", "idle", "aws", "us-east-1a", "p5.48xlarge", state=MachineState.STOPPED, native="stopped"),
        vm("az", "allocated", "azure", "westus2", "Standard_D4s_v5", state=MachineState.STOPPED,
           native="stopped (allocated)"),  # azure,Standard_D4s_v5,...,westus2,0.192: still billed
        vm("az", "released", "azure", "eastus", "Standard_D4s_v5", state=MachineState.STOPPED, native="deallocated"),
        vm("rack-a", "hpc", "libvirt", "gpu-host-a", None, vcpus=32, memory_mib=240 * 1024,
           gpus=(GpuDevice("A100 SXM4 80GB"),) * 4),  # 6.16
    ]
    assert [billed(m) for m in fleet] == [True, True, True, False, True, False, True]
    b = burn(fleet, CAT, ONPREM)
    assert b.hourly == pytest.approx(5.0933 + 1.006 + 0.192 + 6.16)
    assert b.month == pytest.approx(b.hourly * 720)
    assert b.priced == 4 and b.unpriced == (("aws/bastion", "no price for t3.large in us-east-1 (bundled catalogue)"),)
    # a libvirt host's VMs are on-prem hardware, one provider with bare-metal nodes (issue 16)
    assert [(line.key, line.machines) for line in b.by_provider] == [("on-prem", 1), ("aws", 2), ("azure", 1)]
    assert [line.key for line in b.by_region] == ["gpu-host-a", "us-east-1", "westus2"]
    assert b.by_provider[1].hourly == pytest.approx(6.0993)


def test_script_mode_burn_with_an_on_prem_model_from_the_config(tmp_path: Path) -> None:
    """The demo's two libvirt hosts, priced by a [costs.onprem] that overrides the A100 rate only."""
    config = tmp_path / "config.toml"
    config.write_text(
        "local_machine = false\n"
        f'[sources.rack-a]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-a")}"\n'
        f'[sources.rack-b]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-b")}"\n'
        "[costs.onprem]\ngpu_hour = { A100 = 2.0 }\nvcpu_hour = 0.01\n")
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "-o", "json", "cost", "now"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout.splitlines()[0])["data"]
    # running or paused: a100-node-01 4×A100, 32 vCPU, 240 GiB: 8.00 + 0.32 + 0.48 = 8.80
    #                    a100-node-02 2×A100, 32 vCPU, 240 GiB: 4.00 + 0.32 + 0.48 = 4.80
    #                    head-01 8 vCPU, 32 GiB: 0.08 + 0.064; login-01 4, 8 GiB: 0.04 + 0.016; scratch-01 8, 64 GiB
    #                    (paused: it holds its memory): 0.08 + 0.128; rack-b h100-node-01 4×H100 (default 2.20),
    #                    48 vCPU, 480 GiB: 8.80 + 0.48 + 0.96 = 10.24
    expected = 8.80 + 4.80 + 0.144 + 0.056 + 0.208 + 10.24
    assert data["hourly_usd"] == pytest.approx(expected)
    assert data["month_usd"] == pytest.approx(expected * 720, abs=0.01)
    assert data["machines_priced"] == 6 and data["unpriced"] == []
    assert {d["key"]: d["hourly_usd"] for d in data["by_source"]} == pytest.approx(
        {"rack-a": 8.80 + 4.80 + 0.144 + 0.056 + 0.208, "rack-b": 10.24})
    assert data["catalogue"]["name"] == "bundled" and data["catalogue"]["as_of"] == "2026-11-23"
    text = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "cost", "machines"],
                          capture_output=True, text=True, env=env, timeout=120).stdout
    assert "rack-b/h100-node-01" in text and "$10.24" in text and "on-prem model" in text
    bad = config.read_text().replace("vcpu_hour = 0.01", "vcpu_hour = -1")
    config.write_text(bad)
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "cost", "now"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "config.toml:10: costs.onprem.vcpu_hour: Input should be greater than or equal to 0" \
        in r.stderr


def test_compare_orders_offers_and_says_how_much_cheaper() -> None:
    quotes = compare(CAT, "A100", 8, 100)
    # gcp,a2-highgpu-8g,europe-west4,19.4217 ... aws,p4d.24xlarge,eu-west-1,35.39655 (the dearest)
    assert [(q.cloud, q.region, q.machine_type) for q in quotes] == [
        ("gcp", "europe-west4", "a2-highgpu-8g"), ("azure", "eastus", "Standard_ND96asr_v4"),
        ("azure", "westus2", "Standard_ND96asr_v4"), ("gcp", "us-central1", "a2-highgpu-8g"),
        ("gcp", "us-east1", "a2-highgpu-8g"), ("aws", "us-east-1", "p4d.24xlarge"),
        ("aws", "us-west-2", "p4d.24xlarge"), ("aws", "eu-west-1", "p4d.24xlarge")]
    assert quotes[0].hourly == 19.4217 and quotes[0].total == 1942.17
    assert quotes[0].saving == pytest.approx(1 - 19.4217 / 35.39655, abs=1e-4) and quotes[-1].saving == 0
    spot_us = compare(CAT, "a100", 8, 10, spot=True, region_prefix="us-")
    # azure,Standard_ND96asr_v4,...,2.99167 spot, cheapest; aws us-west-2 10.507 spot, dearest in the US
    assert (spot_us[0].cloud, spot_us[0].hourly, spot_us[0].total) == ("azure", 2.99167, 29.92)
    # Azure's eastus and westus2 count as us- regions, as a person means
    assert {q.region for q in spot_us} == {"eastus", "westus2", "us-central1", "us-east1", "us-east-1", "us-west-2"}
    assert {q.region for q in compare(CAT, "A100", 8, 10, region_prefix="europe-")} == {"europe-west4"}
    assert compare(CAT, "A100", 3, 1) == []  # no size has exactly three


def test_compare_in_script_mode_names_unknown_gpus(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", "/dev/null", "-o", "json", "cost", "compare",
                        "--gpu", "H100", "--count", "8", "--hours", "10"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    quotes = json.loads(r.stdout)["data"]["quotes"]
    # azure,Standard_ND96isr_H100_v5,H100,8 (corrected from the source's 12),...,eastus,98.32; the dearest is
    # gcp,a3-edgegpu-8g,...,europe-west4,111.81719
    nd = next(q for q in quotes if q["cloud"] == "azure")
    assert nd == {"cloud": "azure", "region": "eastus", "machine_type": "Standard_ND96isr_H100_v5",
                  "hourly_usd": 98.32, "total_usd": 983.2, "saving_vs_dearest": round(1 - 98.32 / 111.81719, 4)}
    assert quotes[-1]["hourly_usd"] == 111.81719 and quotes[-1]["saving_vs_dearest"] == 0
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", "/dev/null", "cost", "compare", "--gpu", "A200"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "--gpu: no 'A200' in the bundled catalogue (it has: A10, A100, A100-80GB," in r.stderr


def node(name: str, *, labels: dict[str, str] | None = None, instance_type: str = "", zone: str = "", gpus: int = 0,
         product: str = "", cpu: int = 8, mem_gib: int = 32, addresses: tuple[str, ...] = ()) -> KubeNode:
    return KubeNode(source="k8s", name=name, ready=True, unschedulable=False, roles=(), version="v1.30.4",
                    created_at=None, cpu_capacity_m=cpu * 1000, cpu_allocatable_m=cpu * 1000 - 500,
                    memory_capacity_mib=mem_gib * 1024, memory_allocatable_mib=mem_gib * 1024 - 4096,
                    gpu_capacity=gpus, gpu_allocatable=gpus, gpu_product=product, labels=tuple((labels or {}).items()),
                    instance_type=instance_type, zone=zone, addresses=addresses)


def test_kubernetes_nodes_priced_by_cloud_or_by_the_model() -> None:
    eks = node("ip-10-0-0-5", labels={"eks.amazonaws.com/nodegroup": "gpu", "eks.amazonaws.com/capacityType": "SPOT"},
               instance_type="p4d.24xlarge", zone="us-east-1a", gpus=8, product="NVIDIA-A100-SXM4-40GB")
    assert node_rate(eks, CAT, ONPREM) == Rate(5.0933, "aws spot")  # aws,p4d.24xlarge,...,us-east-1 spot 5.0933
    gke = node("gke-a2", labels={"cloud.google.com/gke-nodepool": "a2"}, instance_type="a2-highgpu-1g",
               zone="us-central1-a", gpus=1)
    assert node_rate(gke, CAT, ONPREM) == Rate(3.67339, "gcp on-demand")
    self_managed = node("w1", instance_type="g5.xlarge", zone="us-east-1b")  # only EC2 has that type there
    assert node_provider(self_managed, CAT) == "aws" and node_rate(self_managed, CAT, ONPREM).hourly == 1.006
    # bare metal: 8 A100 x 1.30 + 64 vCPU x 0.015 + 512 GiB x 0.002 = 10.40 + 0.96 + 1.024
    metal = node("a100-01", instance_type="a100-pool", gpus=8, product="NVIDIA-A100-SXM4-80GB", cpu=64, mem_gib=512)
    assert node_rate(metal, CAT, ONPREM).hourly == pytest.approx(12.384)
    # every GPU MIG-partitioned: the device plugin shows none, GPU feature discovery counts one
    mig = node("mig-01", labels={"nvidia.com/gpu.count": "1"}, product="NVIDIA-A100-SXM4-40GB", cpu=32, mem_gib=256)
    assert node_rate(mig, CAT, ONPREM).hourly == pytest.approx(1.30 + 0.48 + 0.512)
    unknown = node("ip-1", labels={"eks.amazonaws.com/nodegroup": "x"}, instance_type="t3.large", zone="us-east-1a")
    assert node_rate(unknown, CAT, ONPREM).why == "no price for t3.large in us-east-1 (bundled catalogue)"


def test_a_node_that_is_also_a_listed_machine_is_counted_once() -> None:
    ec2 = replace(vm("aws", "ip-10-0-0-5", "aws", "us-east-1a", "p4d.24xlarge", spot=True), addresses=("10.0.0.5",))
    eks = node("ip-10-0-0-5", labels={"eks.amazonaws.com/nodegroup": "gpu", "eks.amazonaws.com/capacityType": "SPOT"},
               instance_type="p4d.24xlarge", zone="us-east-1a", addresses=("10.0.0.5",))
    metal = node("a100-01", gpus=8, product="NVIDIA-A100-SXM4-80GB", cpu=64, mem_gib=512)
    b = burn([ec2], CAT, ONPREM, [eks, metal])
    assert b.priced == 2 and b.hourly == pytest.approx(5.0933 + 12.384)
    assert [(line.key, line.machines) for line in b.by_provider] == [("on-prem", 1), ("aws", 1)]
    assert [line.key for line in b.by_source] == ["k8s", "aws"]


def test_budgets_against_the_projected_month(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    base = ("local_machine = false\n"
            f'[sources.rack-a]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-a")}"\n'
            f'[sources.rack-b]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-b")}"\n')
    config.write_text(base + "[costs.budgets]\nrack-a = 5000\nrack-b = 10000\n")
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "-o", "json", "cost", "budgets"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    # rack-a: 6.16 + 3.56 + 0.184 + 0.076 + 0.248 = 10.228 $/h x 720 = 7364.16; rack-b: 10.48 x 720 = 7545.60
    assert json.loads(r.stdout)["data"] == [
        {"budget": "rack-a", "kind": "source", "budget_usd": 5000.0, "projected_usd": 7364.16, "ratio": 1.4728,
         "over": True},
        {"budget": "rack-b", "kind": "source", "budget_usd": 10000.0, "projected_usd": 7545.6, "ratio": 0.7546,
         "over": False}]
    text = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "cost", "budgets"],
                          capture_output=True, text=True, env=env, timeout=120).stdout
    assert "over by $2,364" in text and "within" in text
    for bad, message in (("[costs.budgets]\nrack-c = 100\n", "config.toml:9: costs.budgets.rack-c: no source named "
                                                             "'rack-c' (sources: rack-a, rack-b)"),
                         ("[costs.budgets]\nrack-a = 0\n", "config.toml:9: costs.budgets.rack-a: Input should be "
                                                           "greater than 0"),
                         ('[costs.budgets]\n"rack-a/ml" = 10\n',
                          'config.toml:9: costs.budgets.rack-a/ml: a namespace budget is "CLUSTER/NAMESPACE" with a '
                          'Kubernetes source (rack-a is libvirt)')):
        config.write_text(base + bad)
        r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "cost", "budgets"],
                           capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2 and message in r.stderr, r.stderr


async def test_the_overview_shows_the_burn_and_a_budget_overrun(tmp_path: Path) -> None:
    from cockpit.sandbox import demo_config
    from tests.ui_helpers import loaded, make_app

    config = replace(demo_config(audit_path=tmp_path / "audit.jsonl"), budgets={"rack-b": 5000.0})
    app = make_app(tmp_path / "audit.jsonl", config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        text = str(app.screen.query_one("#overview-other").render())
        # rack-a 10.228 + rack-b 10.48 (this machine, `local`, has no price model: it is not a machine source)
        assert "burn $20.71/h · $14,910 per 30 days · 6 priced" in text
        assert "budget rack-b  projected $7,546 of $5,000 (151%)  over by $2,546" in text
        await pilot.press("6", *"b" * 8)  # the Costs screen's budgets grouping, last of the cycle
        from screens.widgets.virtual_table import VirtualTable

        t = app.screen.query_one("#costs-table", VirtualTable)
        row = t.row("budget:rack-b")
        assert row is not None and row.cells[:7] == ("rack-b", "source", "", "over by $2,546", "$5,000", "$7,546",
                                                     "151%")
        assert [c.label for c in t.columns][3:7] == ["STATUS", "BUDGET/MO", "PROJECTED", "USE"]
        summary = str(app.screen.query_one("#costs-summary").render())
        assert summary.startswith("1 budget · 1 projected over (by $2,546)")
