"""The Overview at 80x24 and 120x40: problems first (a source down, a NotReady node, idle GPUs),
one line per healthy source, then the summaries; the body scrolls with the table's keys; no
host-GPU line for a cloud; GPUs on a NotReady node are never counted as free; a stopped VM has no
GPU figure; an unchanged poll repaints nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import SourceConfig
from cockpit.sandbox import demo_config, kube_source
from cockpit.sandbox.kube.server import KubeFake
from screens.overview_lines import Line, LinesView, lay_out
from tests.cloud_helpers import arm, creds, gce, moto_server
from tests.conftest import FIXED_NOW
from tests.kube_helpers import reset_clock, seeded_fake
from tests.ui_helpers import loaded, make_app, wait_for

SIZES = [(80, 24), (120, 40)]
__all__ = ["arm", "creds", "gce", "moto_server"]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeFake]:
    fake = seeded_fake(tmp_path / "kube", FIXED_NOW)
    yield fake
    fake.stop()
    reset_clock()


def closed_port() -> int:
    """A local port nothing listens on (bound, then let go)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def config_with(tmp_path: Path, cluster: KubeFake | None, *extra: SourceConfig) -> Any:
    base = demo_config(kube=cluster, audit_path=tmp_path / "audit.jsonl")
    # this machine's CPU, memory and hostname differ everywhere: leave the local source out
    return replace(base, sources=(*(s for s in base.sources if s.kind != "local"), *extra))


def dead_cluster(tmp_path: Path) -> SourceConfig:
    """A Kubernetes source whose API server is a closed port: down from its first call."""
    kubeconfig = tmp_path / "dead-kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: dead, cluster: {{server: "http://127.0.0.1:{closed_port()}"}}}}]
users: [{{name: dead, user: {{token: x}}}}]
contexts: [{{name: admin, context: {{cluster: dead, user: dead}}}}]
current-context: admin
""")
    return kube_source("edge-down", kubeconfig)


def text(app: Any, selector: str) -> str:
    """A block's lines in full (before they are cut or wrapped to the screen's width)."""
    block: LinesView = app.screen.query_one(selector, LinesView)
    return block.text()


def screen_lines(app: Any) -> list[str]:
    """What the terminal shows now, row by row (the compositor's own rendering of the screen),
    without the scroll bar's columns at the right edge (its thumb moves as the body scrolls)."""
    width = app.size.width
    return [strip.text[:width - 3].rstrip() for strip in app.screen._compositor.render_strips()]


def test_a_wrapped_line_keeps_its_indent_and_a_cut_one_ends_with_an_ellipsis() -> None:
    from textual.content import Content

    lines = lay_out([Line(Content("⚠ rack-b degraded since 09:30:00: no answer within 10s"), indent=2, wrap=True),
                     Line(Content("  rack-a  libvirt  gpu-host-a · 6 machines (4 running)"))], 30)
    assert [c.plain for c in lines] == ["⚠ rack-b degraded since", "  09:30:00: no answer within", "  10s",
                                        "  rack-a  libvirt  gpu-host-a…"]


def lost() -> SourceConfig:
    return SourceConfig("lost", "libvirt", settings={"uri": "test:///nowhere/host.xml"})


async def test_a_source_down_comes_first_and_the_body_scrolls(tmp_path: Path, cluster: KubeFake) -> None:
    """A Kubernetes source on a closed port is the first thing under the tab bar, with since when
    and why; the keys of a table move the whole body (j/k, down/up, G/g, end/home, pagedown)."""
    app = make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, cluster, dead_cluster(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        shown = screen_lines(app)
        # the hub calls it ok (its watch cache answered, empty): every list failing is what says it is out
        assert shown[1] == " ✗ edge-down kubernetes cannot list deployments, hpas, inferenceservices,"
        # the reason wraps under its text, not at column 0
        assert shown[2].startswith("   nodes, pods: cannot reach http://127.0.0.1:"), shown[2]
        problems = text(app, "#overview-problems")
        assert "Connection refused  (ctrl+r retries · 3 Nodes)" in problems.splitlines()[0]
        assert "gpu-prod/l4-02 node NotReady, 4 L4 GPUs unusable  (3 Nodes)" in problems
        sources = text(app, "#overview-sources")
        assert "edge-down" not in sources  # a source with a problem is said once, above
        assert sources.splitlines()[0] == "Sources 3 ok, 1 with a problem above"

        body = app.screen.query_one("#overview")
        assert body.has_focus and body.max_scroll_y > 0
        hint = "j/k or ↑/↓ scroll · 2 Machines · : commands · ? keys"

        async def press(*keys: str) -> list[str]:
            await pilot.press(*keys)
            await wait_for(pilot, lambda: not body.is_scrolling)
            await pilot.pause()
            return screen_lines(app)

        assert not any(hint in row for row in shown)
        assert (await press("j"))[1] == shown[2] and body.scroll_y == 1
        assert (await press("k"))[1] == shown[1] and body.scroll_y == 0
        assert (await press("down", "down"))[1] == shown[3]
        bottom = await press("G")
        assert body.scroll_y == body.max_scroll_y and any(hint in row for row in bottom)
        assert (await press("g"))[1] == shown[1]
        await press("end")
        assert body.scroll_y == body.max_scroll_y
        await press("home", "pagedown")
        assert body.scroll_y == min(body.max_scroll_y, body.scrollable_content_region.height)


def dcgm(source: str, *hosts: tuple[str, float], as_of: Any = FIXED_NOW) -> Any:
    """A Prometheus answer with one GPU utilisation series per (host, value), flat over the window,
    as a DCGM exporter inside each VM reports it (its Hostname is the VM's name)."""
    from cockpit.model_metrics import PanelResult, PromSnapshot, Series
    from cockpit.promql import panels_for

    spec = next(p for p in panels_for({}) if p.id == "gpu_util")
    t0 = FIXED_NOW.timestamp()
    series = tuple(Series((("Hostname", host), ("gpu", "0"), ("modelName", "NVIDIA A100-SXM4-80GB")),
                          tuple((t0 - 60 * i, value) for i in range(5, -1, -1))) for host, value in hosts)
    return PromSnapshot(source, "http://prom.invalid:9090", 3600.0, 60.0, (PanelResult(spec, series),),
                        as_of=as_of)


async def test_a_stopped_vm_shows_no_gpu_figure(tmp_path: Path) -> None:
    """Prometheus still holds a series for a VM that was stopped (its exporter's last samples, or a
    cloud exporter outliving the stop): the Machines row shows `-`, a running VM its figure."""
    from screens.widgets.virtual_table import VirtualTable

    app = make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, None), start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert {m.name: m.state.value for m in app.inventory.machines["rack-a"]}["a100-node-03"] == "stopped"
        app.inventory = replace(app.inventory, series={"prom": dcgm("prom", ("a100-node-02", 1.0),
                                                                    ("a100-node-03", 1.0))})
        app.screen.inventory_changed()  # type: ignore[attr-defined]
        await pilot.pause()
        t = app.screen.query_one("#machines-table", VirtualTable)
        gutil = [c.key for c in t.columns].index("gutil")

        def cell(key: str) -> str:
            row = t.row(key)
            assert row is not None, key
            return row.cells[gutil]

        assert (cell("rack-a/a100-node-02"), cell("rack-a/a100-node-03")) == ("1.0%", "-")
        detail = app.screen.detail_for("rack-a/a100-node-03")  # type: ignore[attr-defined]
        assert "GPU use none while stopped (its DCGM series would be stale)" in detail.plain


async def test_idle_gpus_are_priced_and_a_stopped_vm_is_not_one_of_them(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, None))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert "✓ all well since 09:30:00" in text(app, "#overview-problems")
        app.inventory = replace(app.inventory, series={"prom": dcgm("prom", ("a100-node-01", 88.0),
                                                                    ("a100-node-02", 1.0), ("a100-node-03", 1.0))})
        app.screen.inventory_changed()  # type: ignore[attr-defined]
        problems = text(app, "#overview-problems").splitlines()
        assert len(problems) == 1 and problems[0].startswith("⚠ 1 GPU idle (<5% for 1h) wasting $")
        assert problems[0].endswith("/h: rack-a/a100-node-02  (:cost idle)")


async def test_gpus_on_a_notready_node_are_not_counted_free(tmp_path: Path, cluster: KubeFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, cluster))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        clusters = text(app, "#overview-clusters").splitlines()
        assert "    L4              8 GPUs · 0 allocated · 4 free · 4 on NotReady l4-02" in clusters
        assert "  gpu-prod  9 nodes: 8 ready, 1 NotReady" in clusters
        assert text(app, "#overview-problems") == "⚠ gpu-prod/l4-02 node NotReady, 4 L4 GPUs unusable  (3 Nodes)"


def test_a_cordoned_node_s_gpus_are_named_not_free() -> None:
    from cockpit.state.overview import GpuModelLine

    line = GpuModelLine("L4", 12, 1, 3, (("NotReady", "l4-02", 4), ("cordoned", "l4-03", 4)))
    assert line.describe() == "12 GPUs · 1 allocated · 3 free · 4 on NotReady l4-02 · 4 on cordoned l4-03"


async def test_no_cloud_has_a_host_gpu_line(tmp_path: Path, moto_server: Any, gce: Any, arm: Any) -> None:
    """The clouds run p4d and H100s: their GPUs come with the instance types, so no line says a
    cloud's host lists no GPUs; each cloud has its one line among the sources."""
    from tests.test_clouds_ui import mixed

    app = make_app(tmp_path / "audit.jsonl", config=mixed(tmp_path, moto_server, gce, arm))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        everything = "\n".join(text(app, f"#overview-{part}")
                               for part in ("problems", "sources", "clusters", "gpus", "other"))
        assert "PCI device list" not in everything
        hosts = text(app, "#overview-gpus").splitlines()
        assert [h.split()[0] for h in hosts[1:]] == ["rack-a", "rack-b"]
        sources = [line.split()[0] for line in text(app, "#overview-sources").splitlines()[1:]]
        assert sources == ["rack-a", "rack-b", "aws", "gcp", "azure"]


async def test_an_unchanged_poll_repaints_nothing(tmp_path: Path, cluster: KubeFake) -> None:
    app = make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, cluster, lost()))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        blocks = list(app.screen.query(LinesView))
        before = [b.version for b in blocks]
        generation = app.main_poll.generation
        app.request_poll(0)
        while app.main_poll.generation == generation:
            await pilot.pause(0.05)
        await loaded(pilot)
        app.screen.inventory_changed()  # type: ignore[attr-defined]
        assert [b.version for b in blocks] == before
        await pilot.press("ctrl+r")  # a person's refresh asks every source again: still the same
        await loaded(pilot)
        assert [b.version for b in blocks] == before


def snapshot_app(tmp_path: Path, cluster: KubeFake) -> Any:
    return make_app(tmp_path / "audit.jsonl", config=config_with(tmp_path, cluster, lost()))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_snapshot(snap_compare: Any, tmp_path: Path, cluster: KubeFake, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app(tmp_path, cluster), terminal_size=size, run_before=loaded)


def test_overview_scrolled_to_the_end_snapshot(snap_compare: Any, tmp_path: Path, cluster: KubeFake) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: not pilot.app.screen.query_one("#overview").is_scrolling)
        await pilot.pause()

    assert snap_compare(snapshot_app(tmp_path, cluster), terminal_size=(80, 24), run_before=run_before)
