"""Stable columns at 80x24: which columns show is decided by the terminal's width, never by a value
that grew. Cordoning a node keeps Nodes' CLUSTER; a rollout (`complete` -> `progressing`) narrows no
other column; Deployments tells two `inference/embedder` rows of two clusters apart by CLUSTER; the
Operations view keeps the ID an operation is opened and cancelled by."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult

from cockpit.sandbox import demo_config
from cockpit.sandbox.kube.server import KubeFake
from screens.deployments import COLUMNS as DEPLOY_COLUMNS
from screens.detail_table import LAST, cluster_columns
from screens.nodes import COLUMNS as NODE_COLUMNS
from screens.widgets.dialogs import ConfirmScreen
from screens.widgets.virtual_table import Column, Row, VirtualTable
from tests.ui_helpers import loaded, make_app, wait_for


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[KubeFake]:
    """The demo's second cluster, gpu-eu (its own `inference/embedder`), beside the `kube` fixture's gpu-prod."""
    from cockpit.sandbox.kube.seed import seed_edge

    fake = KubeFake(tmp_path / "edge").start()
    seed_edge(fake)
    yield fake
    fake.stop()


def two_clusters(kube: KubeFake, edge: KubeFake, tmp_path: Path, view: str) -> Any:
    audit = tmp_path / "audit.jsonl"
    return make_app(audit, config=demo_config(kube=kube, kube_edge=edge, audit_path=audit), start_view=view)


def shown(table: VirtualTable) -> dict[str, int]:
    """Column key -> width, of the columns laid out now."""
    return {table.columns[ci].key: w for ci, w in table._layout}


def header(table: VirtualTable) -> str:
    return table.render_line(0).text


# -- the widget ----------------------------------------------------------------------------------
class OneTable(App[None]):
    CSS = "VirtualTable { scrollbar-size-vertical: 1; }"  # as the cockpit's stylesheet has it

    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__()
        self.columns = columns

    def compose(self) -> ComposeResult:
        yield VirtualTable(self.columns)


def deploy_cells(name: str, rollout: str, model: str) -> tuple[str, ...]:
    """A Deployments row's cells in COLUMNS order."""
    by_key = {"kind": "deploy", "name": f"inference/{name}", "cluster": "gpu-prod", "ready": "2/2", "rollout": rollout,
              "rev": "2", "gpus": "8", "cost": "$10.49", "rps": "-", "p95": "-", "traffic": "-", "hpa": "-",
              "model": model, "image": "vllm/vllm-openai:v0.6.1", "age": "12d"}
    return tuple(by_key[c.key] for c in DEPLOY_COLUMNS)


async def test_a_rollout_narrows_no_column() -> None:
    """ROLLOUT `complete` -> `progressing` on a poll: every column keeps its width (MODEL shrank before)."""
    app = OneTable(DEPLOY_COLUMNS)
    async with app.run_test(size=(80, 24)) as pilot:
        t = app.query_one(VirtualTable)
        models = ("models:/llama-70b-chat/8", "models:/bge-large/3", "models:/llama-8b-instruct/4")
        names = ("llama-70b", "embedder", "llama-8b")
        t.set_rows([Row(n, deploy_cells(n, "complete", m)) for n, m in zip(names, models, strict=True)])
        await pilot.pause()
        before = shown(t)
        assert {"name", "rollout", "model"} <= set(before)
        t.set_rows([Row(n, deploy_cells(n, "progressing" if n == "llama-70b" else "complete", m))
                    for n, m in zip(names, models, strict=True)])
        await pilot.pause()
        assert shown(t) == before
        assert "progressing" in t.render_line(1).text  # planned for it: not cut either


async def test_a_grown_value_is_cut_in_its_column_or_takes_free_room_only() -> None:
    columns = (Column("a", "A", min_width=4, max_width=30, width=6), Column("b", "B", min_width=4, max_width=30,
                                                                              width=6, priority=1))
    app = OneTable(columns)
    async with app.run_test(size=(40, 10)) as pilot:
        t = app.query_one(VirtualTable)
        t.set_rows([Row(1, ("short", "x" * 20))])
        await pilot.pause()
        assert shown(t) == {"a": 6, "b": 20}  # B widened into the room left (38 cells)
        t.set_rows([Row(1, ("a much longer value here", "x" * 20))])
        await pilot.pause()
        assert shown(t) == {"a": 17, "b": 20}  # A takes the room nobody used, B keeps its width
        assert t.render_line(1).text.startswith("  a much longer va…")
        t.set_rows([Row(2, ("a much longer value here", "x" * 20))])  # other rows: planned afresh, by priority
        await pilot.pause()
        assert shown(t) == {"a": 24, "b": 13}


async def test_which_columns_show_depends_on_the_width_alone() -> None:
    app = OneTable(NODE_COLUMNS)
    async with app.run_test(size=(80, 24)) as pilot:
        t = app.query_one(VirtualTable)

        def cells(name: str, status: str, gpu: str) -> tuple[str, ...]:
            return (name, "gpu-prod", status, gpu, "8", "6/8", "2", "-", "-", "$13.89", "6/95", "1020G", "6",
                    "a100-pool", "v1.30.2", "61d")

        t.set_rows([Row(1, cells("a1", "Ready", "L4"))])
        await pilot.pause()
        narrow = set(shown(t))
        t.set_rows([Row(2, cells("ip-10-0-12-34.eu-west-1.compute.internal", "NotReady,Cordoned",
                                 "NVIDIA-H100-80GB-HBM3"))])
        await pilot.pause()
        assert set(shown(t)) == narrow
        assert {"name", "cluster", "status", "gpu", "alloc", "free", "gutil", "pods"} <= narrow
        assert sum(shown(t).values()) + len(narrow) - 1 <= 78  # beside the gutter, nothing off the edge


def test_cluster_column_gives_way_with_one_cluster() -> None:
    one = {c.key: c.priority for c in cluster_columns(DEPLOY_COLUMNS, 1)}
    two = {c.key: c.priority for c in cluster_columns(DEPLOY_COLUMNS, 2)}
    assert one["cluster"] == LAST and two["cluster"] < LAST
    assert {k: v for k, v in one.items() if k != "cluster"} == {k: v for k, v in two.items() if k != "cluster"}


# -- the screens ---------------------------------------------------------------------------------
async def test_cordoning_a_node_at_80_columns_keeps_cluster(kube: KubeFake, edge: KubeFake, tmp_path: Path) -> None:
    app = two_clusters(kube, edge, tmp_path, "nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#nodes-table", VirtualTable)
        before = shown(t)
        assert "cluster" in before and "CLUSTER" in header(t)
        t.move_to("gpu-prod/l4-01")
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: (r := t.row("gpu-prod/l4-01")) is not None and r.cells[2] == "Ready,Cordoned",
                       timeout=15)
        await pilot.pause()
        assert shown(t) == before
        assert "CLUSTER" in header(t)
        line = t.render_line(1 + t.visible_keys().index("gpu-prod/l4-01")).text
        assert "gpu-prod" in line and "Ready,Cordoned" in line


async def test_deployments_tell_two_clusters_apart_at_80_columns(kube: KubeFake, edge: KubeFake,
                                                                 tmp_path: Path) -> None:
    app = two_clusters(kube, edge, tmp_path, "deployments")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#deployments-table", VirtualTable)
        assert "cluster" in shown(t) and "CLUSTER" in header(t)
        lines = {k: t.render_line(1 + i).text for i, k in enumerate(t.visible_keys())}
        prod, eu = lines["deploy:gpu-prod/inference/embedder"], lines["deploy:gpu-eu/inference/embedder"]
        assert "inference/embedder" in prod and "inference/embedder" in eu
        assert "gpu-prod" in prod and "gpu-eu" in eu


async def test_deployments_with_one_cluster_spend_no_column_on_it(kube: KubeFake, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    app = make_app(audit, config=demo_config(kube=kube, audit_path=audit), start_view="deployments")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#deployments-table", VirtualTable)
        assert "cluster" not in shown(t) and {"name", "ready", "rollout", "model"} <= set(shown(t))


def audit_with_an_operation(path: Path) -> Path:
    """A rollback a killed process left unfinished, its last step a long message: the widest STATE
    and LAST there are (they pushed ID out at 80 columns)."""
    base = {"user": "ops", "host": "bastion-1", "origin": "ui", "duration_ms": 0.0, "error": None, "message": None,
            "id": "7011bac00002", "command": "deploy rollback", "target": "gpu-prod/inference/llama-70b",
            "source": "gpu-prod", "previous": {"revision": 2}, "new": None}
    path.write_text("".join(json.dumps(base | e) + "\n" for e in (
        {"time": "2026-11-23T09:20:00.000+00:00", "phase": "intent", "result": "started"},
        {"time": "2026-11-23T09:20:01.000+00:00", "phase": "applied", "result": "applied"},
        {"time": "2026-11-23T09:20:03.000+00:00", "phase": "progress", "result": "running",
         "message": "gpu-prod/inference/llama-70b: 1 of 2 updated replicas available"},
    )))
    return path


async def test_operations_show_their_id_at_80_columns(tmp_path: Path) -> None:
    audit = audit_with_an_operation(tmp_path / "audit.jsonl")
    app = make_app(audit, start_view="operations")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: bool(app.screen.query("#operations-table")))
        t = app.screen.query_one("#operations-table", VirtualTable)
        await wait_for(pilot, lambda: t.row_count == 1)
        assert {"id", "state", "command", "target"} <= set(shown(t))
        assert header(t).split()[0] == "ID"
        line = t.render_line(1).text
        assert line.split()[:2] == ["7011bac0", "unfinished"] and "gpu-prod/inference/llama-70b" in line
