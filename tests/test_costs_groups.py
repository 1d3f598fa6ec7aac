"""Issue 16: each Costs grouping has a header of its own (a provider has no TYPE or PRICE FROM),
libvirt VMs and bare-metal nodes are one `on-prem` provider on the screen and in `cost ...`
output, and counts agree with their nouns (`1 machine`, never `1 machines`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit import format as fmt
from cockpit.costs import ONPREM, OnPremModel, burn, provider_group
from cockpit.model import GpuDevice, Machine, MachineState
from cockpit.model_kube import KubeNode
from cockpit.prices import bundled
from cockpit.sandbox import demo_config, libvirt_uri
from cockpit.sandbox.kube.server import KubeFake
from screens.costs import CostsScreen, columns_for
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import FIXED_NOW
from tests.kube_helpers import reset_clock, seeded_fake
from tests.ui_helpers import loaded, make_app

ROOT = Path(__file__).resolve().parent.parent
SNAP_AUDIT = Path("/tmp/cockpit-snapshots-costs-groups/audit.jsonl")


def test_plural_agrees_with_the_count() -> None:
    assert [fmt.plural(n, "machine") for n in (0, 1, 2)] == ["0 machines", "1 machine", "2 machines"]
    assert fmt.plural(1, "entry", "entries") == "1 entry" and fmt.plural(3, "entry", "entries") == "3 entries"
    assert fmt.state_text("running", "running") == "running"  # not `running (running)`
    assert fmt.state_text("stopped", "shut off") == "stopped (shut off)"


def test_libvirt_vms_and_bare_metal_nodes_are_one_on_prem_provider() -> None:
    vm = Machine(source="rack-a", name="a100-node-01", provider="libvirt", location="gpu-host-a",
                 state=MachineState.RUNNING, native_state="running", vcpus=32, memory_mib=240 * 1024,
                 gpus=(GpuDevice("A100 SXM4 80GB"),) * 4)
    node = KubeNode(source="gpu-prod", name="l4-01", ready=True, unschedulable=False, roles=(), version="v1.30.4",
                    created_at=None, cpu_capacity_m=48000, cpu_allocatable_m=47000,
                    memory_capacity_mib=192 * 1024, memory_allocatable_mib=188 * 1024, gpu_capacity=4,
                    gpu_allocatable=4, gpu_product="L4")
    b = burn([vm], bundled(), OnPremModel(), [node])
    assert [(line.key, line.machines) for line in b.by_provider] == [(ONPREM, 2)]
    assert {line.key for line in b.by_region} == {"gpu-host-a", ONPREM}  # by region: still the host
    assert provider_group("libvirt") == ONPREM and provider_group("aws") == "aws"


def test_each_grouping_has_its_own_headings() -> None:
    def labels(group: str) -> list[str]:
        return [c.label for c in columns_for(group) if c.label]

    assert labels("machine") == ["NAME", "SOURCE", "TYPE", "STATE", "$/HOUR", "$/30 DAYS", "SHARE", "PRICE FROM"]
    assert labels("provider") == ["PROVIDER", "SOURCES", "MACHINES", "OFF", "$/HOUR", "$/30 DAYS", "SHARE",
                                  "PRICED BY"]
    assert labels("source")[:4] == ["SOURCE", "PROVIDER", "MACHINES", "OFF"]
    assert labels("region")[:4] == ["REGION", "PROVIDER", "MACHINES", "OFF"]
    assert labels("namespace")[0] == "NAMESPACE" and labels("idle GPUs")[0] == "WHERE"
    # spend and budgets leave a column empty: it has no heading and no width, not a blank heading
    spend = {c.key: c for c in columns_for("spend")}
    assert spend["state"].label == "" and spend["state"].max_width == 0


def test_cost_commands_name_one_on_prem_provider(tmp_path: Path) -> None:
    """`cost by provider` and `cost now` (text and JSON) say on-prem, never libvirt."""
    config = tmp_path / "config.toml"
    config.write_text("local_machine = false\n"
                      f'[sources.rack-a]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-a")}"\n'
                      f'[sources.rack-b]\nkind = "libvirt"\nuri = "{libvirt_uri("rack-b")}"\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}

    def cockpit(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    text = cockpit("cost", "by", "provider")
    rows = [line.split() for line in text.splitlines()]
    assert rows[0][:2] == ["PROVIDER", "MACHINES"] and rows[1][:2] == ["on-prem", "6"]
    assert "libvirt" not in text
    data = json.loads(cockpit("-o", "json", "cost", "now").splitlines()[0])["data"]
    assert [(d["key"], d["machines"]) for d in data["by_provider"]] == [("on-prem", 6)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeFake]:
    fake = seeded_fake(tmp_path / "kube", FIXED_NOW)
    yield fake
    fake.stop()
    reset_clock()


def costs_app(tmp_path: Path, kube: KubeFake, audit: Path | None = None) -> Any:
    audit = audit or tmp_path / "audit.jsonl"
    config = demo_config(kube=kube, audit_path=audit)
    config = replace(config, sources=tuple(s for s in config.sources if s.kind != "local"))
    return make_app(audit, config=config, start_view="costs")


async def test_by_provider_shows_its_own_header_and_one_on_prem(tmp_path: Path, cluster: KubeFake) -> None:
    app = costs_app(tmp_path, cluster)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, CostsScreen) and screen.group == "provider"
        t = screen.query_one(VirtualTable)
        shown = [t.columns[ci].label for ci, _ in t._layout]
        assert shown[:4] == ["PROVIDER", "SOURCES", "MACHINES", "OFF"] and "PRICED BY" in shown
        assert "TYPE" not in shown and "PRICE FROM" not in shown
        assert t.visible_keys() == ["provider:on-prem"]  # rack-a and rack-b VMs with gpu-prod's nodes
        row = t.row("provider:on-prem")
        assert row is not None
        name, sources, machines, off, *_, basis = row.cells
        assert (name, sources, basis) == ("on-prem", "gpu-prod, rack-a, rack-b", "on-prem model")
        assert machines.isdigit() and int(machines) == 15  # 6 VMs billed + 9 nodes, a bare count under MACHINES
        assert off == "3"  # a100-node-03, h100-dev-01 and h100-node-02 are off (a paused VM is billed)
        await pilot.press("b", "b", "b")  # source, region, namespace
        assert screen.group == "namespace"
        pods = [c for r in (t.row(k) for k in t.visible_keys()) if r for c in r.cells[3:4]]
        assert "1 pods" not in pods and all(p.split()[1] in ("pod", "pods", "node", "nodes") for p in pods)
        assert any(p == "1 pod" for p in pods) or any(p.endswith("pods") for p in pods)


def _snap_audit() -> Path:
    SNAP_AUDIT.parent.mkdir(parents=True, exist_ok=True)
    SNAP_AUDIT.write_text("")
    return SNAP_AUDIT


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_costs_by_provider_snapshot(snap_compare: Any, size: tuple[int, int], tmp_path: Path,
                                    cluster: KubeFake) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("b")
        await pilot.pause(0.05)

    assert snap_compare(costs_app(tmp_path, cluster, _snap_audit()), terminal_size=size, run_before=run_before)
