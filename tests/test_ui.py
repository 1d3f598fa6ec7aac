"""The UI driven through Textual's Pilot: filter, select, act, confirm, see the new state, and
check what libvirt and the audit log now hold."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import Footer

from cockpit.config import SourceConfig
from cockpit.contracts import MACHINES
from cockpit.model import HealthState
from screens.machines import MachinesScreen
from screens.widgets.bars import StatusBar
from screens.widgets.dialogs import ConfirmScreen, TextScreen
from screens.widgets.result_table import ResultTableScreen
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import read_audit, with_sources
from tests.ui_helpers import loaded, make_app, wait_for


def table(app) -> VirtualTable:  # type: ignore[no-untyped-def]
    return app.screen.query_one("#machines-table", VirtualTable)


def cell(app, ref: str, column: str) -> str:  # type: ignore[no-untyped-def]
    t = table(app)
    row = t.row(ref)
    assert row is not None, ref
    return row.cells[[c.key for c in t.columns].index(column)]


def libvirt_state(app, source: str, name: str) -> int:  # type: ignore[no-untyped-def]
    return int(app.hub.call(source, MACHINES, lambda b: b._conn.lookupByName(name).state()[0]))


async def test_filter_select_stop_confirm(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert table(app).visible_count == 9
        await pilot.press("slash", *"h100 node", "enter")
        assert table(app).visible_keys() == ["rack-b/h100-node-01", "rack-b/h100-node-02"]
        assert table(app).cursor_key == "rack-b/h100-node-01"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Shut down rack-b/h100-node-01 (running, 48 vCPU, 480G, 4×H100 SXM5 80GB)?" in str(
            app.screen.query_one("#dialog-body").query(".plan-line").first().render())
        await pilot.press("y")
        await wait_for(pilot, lambda: cell(app, "rack-b/h100-node-01", "state") == "stopped")
        assert libvirt_state(app, "rack-b", "h100-node-01") == 5
        (entry,) = read_audit(tmp_path / "audit.jsonl")
        assert (entry["origin"], entry["command"], entry["target"], entry["previous"], entry["new"]) == (
            "ui", "vm stop", "rack-b/h100-node-01", {"state": "running"}, {"state": "stopped"})
        await pilot.press("escape")  # clears the filter first
        assert table(app).visible_count == 9 and isinstance(app.screen, MachinesScreen)


async def test_cancel_changes_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        table(app).move_to("rack-a/head-01")
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, MachinesScreen))
        await pilot.pause(0.2)
        assert libvirt_state(app, "rack-a", "head-01") == 1
        assert not (tmp_path / "audit.jsonl").exists()


async def test_bulk_start_of_marked_machines(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"stopped", "enter")
        assert table(app).visible_keys() == ["rack-a/a100-node-03", "rack-b/h100-dev-01", "rack-b/h100-node-02"]
        await pilot.press("space", "space")  # marks two, moving down after each
        assert table(app).marked == {"rack-a/a100-node-03", "rack-b/h100-dev-01"}
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = " ".join(str(s.render()) for s in app.screen.query(".plan-line"))
        assert "2 machines" in body and "a100-node-03" in body and "h100-dev-01" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: libvirt_state(app, "rack-b", "h100-dev-01") == 1)
        assert libvirt_state(app, "rack-a", "a100-node-03") == 1
        assert libvirt_state(app, "rack-b", "h100-node-02") == 5
        assert sorted(e["target"] for e in read_audit(tmp_path / "audit.jsonl")) == [
            "rack-a/a100-node-03", "rack-b/h100-dev-01"]


async def test_destroy_needs_the_typed_name(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        table(app).move_to("rack-b/h100-dev-01")
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y", "enter")  # neither a single key nor a wrong name confirms
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmScreen)
        assert libvirt_state(app, "rack-b", "h100-dev-01") == 5
        app.screen.query_one("#typed-name").value = ""
        await pilot.press(*"h100-dev-01", "enter")
        await wait_for(pilot, lambda: table(app).row("rack-b/h100-dev-01") is None)
        names = app.hub.call("rack-b", MACHINES, lambda b: [d.name() for d in b._conn.listAllDomains(0)])
        assert "h100-dev-01" not in names


async def test_command_line_runs_script_commands(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="overview")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("colon", *"machines", "enter")
        assert isinstance(app.screen, MachinesScreen)
        await pilot.press("colon", *"vm suspend rack-a/login-01", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: libvirt_state(app, "rack-a", "login-01") == 3)
        await wait_for(pilot, lambda: cell(app, "rack-a/login-01", "state") == "paused")
        await pilot.press("colon", *"gpu list --free", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultTableScreen))  # a listing: a real table
        rows = app.screen.query_one("#result-table", VirtualTable)
        cells = {c for key in rows.visible_keys() if (row := rows.row(key)) for c in row.cells}
        assert "0000:b7:00.0" in cells and "0000:07:00.0" not in cells
        await pilot.press("escape")
        await pilot.press("colon", *"vm strat x", "enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, MachinesScreen)  # a bad command is said under the line, not a crash
        assert app.screen.query_one("#command-line").value == "vm strat x"  # type: ignore[attr-defined]


async def test_command_line_completion(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("colon", *"vm sta")
        line = app.screen.query_one("#command-line")
        await wait_for(pilot, lambda: line._suggestion == "vm start")
        await pilot.press("tab", "space", *"rack-b/h100-d")
        await wait_for(pilot, lambda: line._suggestion == "vm start rack-b/h100-dev-01")
        await pilot.press("tab")
        assert line.value == "vm start rack-b/h100-dev-01"
        # option values: templates and the free GPUs of the target's host, as the inventory knows them
        line.value = ""
        await pilot.press(*"vm provision rack-b/n9 --template g")
        await wait_for(pilot, lambda: line._suggestion.endswith("--template gpu-node"))
        await pilot.press("tab", *" --gpu 0")
        await wait_for(pilot, lambda: line._suggestion.endswith("--gpu 0000:9a:00.0"))
        await pilot.press("tab", *" --gpu 0")
        await wait_for(pilot, lambda: line._suggestion.endswith("--gpu 0000:9a:00.0 --gpu 0000:ab:00.0"))
        await pilot.press("tab", *" --sta")
        await wait_for(pilot, lambda: line._suggestion.endswith("--start"))
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query(".plan-line").first().render())
        assert "Provision rack-b/n9 from gpu-node: 16 vCPU, 64G, 200G disk, GPUs: 0000:9a:00.0, 0000:ab:00.0" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row("rack-b/n9") is not None)
        assert cell(app, "rack-b/n9", "state") == "running"
        assert libvirt_state(app, "rack-b", "n9") == 1


async def test_views_switch_with_numbers_and_esc_goes_back(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        for key, mode in [("2", "machines"), ("3", "nodes"), ("8", "audit"), ("5", "deployments")]:
            await pilot.press(key)
            assert app.current_mode == mode
        await pilot.press("escape")
        assert app.current_mode == "audit"
        await pilot.press("escape", "escape")
        assert app.current_mode == "machines"


async def test_read_only_hides_actions(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines", read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        footer = " ".join(str(k.render()) for k in app.screen.query_one(Footer).query("FooterKey"))
        assert "Filter" in footer and "Stop" not in footer and "Destroy" not in footer
        await pilot.press("x", "ctrl+d", "F")
        await pilot.pause(0.2)
        assert isinstance(app.screen, MachinesScreen)
        assert "READ-ONLY" in str(app.screen.query_one(StatusBar).render())
        await pilot.press("colon", *"vm stop rack-a/head-01 --yes", "enter")
        await pilot.pause(0.5)
        assert libvirt_state(app, "rack-a", "head-01") == 1


async def test_keys_can_be_remapped(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines", keymap={"machines.stop": "h"})
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("x")
        await pilot.pause(0.2)
        assert isinstance(app.screen, MachinesScreen)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))


async def test_help_lists_binding_ids(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
        text = str(app.screen.query_one("#text-body").render())
        for bid in ("machines.stop", "machines.destroy", "table.mark", "app.command_line", "view.machines"):
            assert bid in text


async def test_hanging_source_does_not_freeze_the_ui(tmp_path: Path, hanging_socket) -> None:  # type: ignore[no-untyped-def]
    from cockpit.sandbox import demo_config

    cfg = with_sources(demo_config(audit_path=tmp_path / "audit.jsonl"),
                       # long enough that a loaded machine handles the keys below inside it
                       SourceConfig("stuck", "libvirt", timeout_seconds=8, settings={"uri": hanging_socket.uri}))
    app = make_app(tmp_path / "audit.jsonl", config=cfg, start_view="machines", watch=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.polling)  # the poll starts after the first frame, then sticks on
        assert not app.inventory.loaded  # the hanging source...
        await pilot.press("3", "2", "slash", *"a100", "escape")  # ...and the UI still answers keys
        assert app.current_mode == "machines"
        assert app.polling, "the keys were handled while the source was still hanging"
        await wait_for(pilot, lambda: app.inventory.loaded, timeout=20)
        assert app.hub.health("stuck").state is HealthState.DEGRADED
        await pilot.pause(0.1)
        status = str(app.screen.query_one(StatusBar).render())
        assert "● stuck degraded since 09:30:00 │" in status  # the few words; why is on the Overview and summary
        assert "stuck: no answer within 8s" in app.hub.health("stuck").describe()
        assert table(app).row("rack-a/head-01") is not None  # the healthy sources are all there


async def test_broken_source_is_reported_and_the_rest_works(tmp_path: Path) -> None:
    from cockpit.sandbox import demo_config

    cfg = with_sources(demo_config(audit_path=tmp_path / "audit.jsonl"),
                       SourceConfig("lost", "libvirt", settings={"uri": "test:///nowhere/host.xml"}))
    app = make_app(tmp_path / "audit.jsonl", config=cfg, start_view="machines")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        status = str(app.screen.query_one(StatusBar).render())
        assert "● lost down since 09:30:00 │" in status  # the status bar's few words; why is on the Overview
        await pilot.press("1")
        await wait_for(pilot, lambda: app.screen.query("#overview-sources"))
        overview = str(app.screen.query_one("#overview-problems").render())  # problems come first
        assert "down since 09:30:00: lost: cannot open test:///nowhere/host.xml: no such" in overview
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#machines-table"))
        assert table(app).visible_count == 9
        summary = str(app.screen.query_one("#machines-summary").render())
        assert "lost: cannot open" in summary
        await pilot.press("slash", *"head", "enter", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # healthy sources still act


async def test_status_bar_at_80_columns_starts_with_the_source_that_is_down(tmp_path: Path) -> None:
    """A line cut at 80 columns never hides a source in trouble: the one that is down comes first
    (configured last, behind three healthy ones), with its state and since when."""
    from cockpit.sandbox import demo_config

    cfg = with_sources(demo_config(audit_path=tmp_path / "audit.jsonl"),
                       SourceConfig("lost", "libvirt", settings={"uri": "test:///nowhere/host.xml"}))
    app = make_app(tmp_path / "audit.jsonl", config=cfg, start_view="machines")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        bar = app.screen.query_one(StatusBar)
        assert bar.size.width == 80
        shown = bar.render_line(0).text  # what the terminal shows: the first 80 columns
        assert shown.startswith("● lost down since 09:30:00 │ ● local (this host) ok"), shown
        full = str(bar.render())
        assert full.index("● local") < full.index("● rack-a") < full.index("● rack-b")  # the healthy, in config order


async def test_no_color_is_honoured(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path / "audit.jsonl", start_view="machines")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        assert app.no_color
        svg = app.export_screenshot()
    colours = {c.lower() for c in re.findall(r"fill: (#[0-9a-fA-F]{6})", svg)}
    # c5c8c6 is the SVG exporter's own default foreground (its terminal theme), not a colour we chose,
    # and 868887 is how the exporter draws that foreground dim (40% toward its background): a stopped VM
    greys = {c for c in colours if c[1:3] == c[3:5] == c[5:7]} | {"#c5c8c6", "#868887"}
    assert colours == greys, f"colours under NO_COLOR: {colours - greys}"


async def test_theme_from_config_and_palette_lists_commands(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines", theme="high-contrast")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.theme == "cockpit-high-contrast"
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"vm provision")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        line = app.screen.query_one("#command-line")
        assert line.has_class("open") and line.value == "vm provision "


async def test_metrics_screen_shows_this_machine_and_says_when_there_is_no_driver(tmp_path: Path) -> None:
    import socket

    app = make_app(tmp_path / "audit.jsonl", start_view="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        summary = str(app.screen.query_one("#metrics-summary").render())
        assert summary.startswith(f"{socket.gethostname()}: CPU ")
        snap = app.inventory.local["local"]
        t = app.screen.query_one("#metrics-table", VirtualTable)
        host = socket.gethostname()
        assert _row(t, "local/cpu")[:3] == ("local", "CPU", host) and _row(t, "local/memory")[1] == "Memory"
        if snap.nvml.value == "ok":  # a GPU machine: a utilisation row per GPU, as nvidia-smi counts them
            assert [k for k in t.visible_keys() if str(k).startswith("local/gpu_util/")] == [
                f"local/gpu_util/{g.index}" for g in snap.gpus]
        else:
            cells = _row(t, "local/gpu")
            assert cells[1] == "GPU" and cells[2].startswith("no NVIDIA driver: ")


def _row(t: VirtualTable, key: str) -> tuple[str, ...]:
    row = t.row(key)
    assert row is not None, f"no row {key}"
    return row.cells
