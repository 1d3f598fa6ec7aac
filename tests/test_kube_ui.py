"""The Nodes & GPUs and Deployments screens through Textual's Pilot: scale, roll back and drain
with their confirmations, read back with kubectl; RBAC refusals on screen; read-only keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cockpit.sandbox import demo_config, kube_source
from cockpit.sandbox.kube.server import KubeFake
from screens.widgets.dialogs import ConfirmScreen, PickScreen
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import read_audit
from tests.kube_helpers import kget, kubectl_missing
from tests.ui_helpers import loaded, make_app, wait_for

pytestmark = kubectl_missing


def app_on(kube: KubeFake, tmp_path: Path, view: str, **kw: Any):  # type: ignore[no-untyped-def]
    config = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl")
    return make_app(tmp_path / "audit.jsonl", config=config, start_view=view, **kw)


def table(app: Any, prefix: str) -> VirtualTable:
    return app.screen.query_one(f"#{prefix}-table", VirtualTable)


def dialog_text(app: Any) -> str:
    return " ".join(str(w.render()) for w in app.screen.query("#dialog-body Static"))


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    """Finished operations only: a change's intent is on disk before the change runs."""
    return [e for e in read_audit(tmp_path / "audit.jsonl") if e["result"] != "unfinished"]


async def test_nodes_screen_shows_gpus_and_drains_with_confirmation(kube: KubeFake, tmp_path: Path) -> None:
    app = app_on(kube, tmp_path, "nodes")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        t = table(app, "nodes")
        row = t.row("gpu-prod/a100-02")
        assert row is not None and row.cells[2:7] == ("Ready", "A100-SXM4-80GB", "8", "8/8", "0")
        assert t.row("gpu-prod/a100-mig-01").cells[4:6] == ("7", "3/7×1g.10gb")  # type: ignore[union-attr]
        summary = str(app.screen.query_one("#nodes-summary").render())
        # 22: the Deployments' 19 and one A100 on a100-01 for each InferenceService revision that takes
        # traffic (mistral-7b's 00002 and 00003, whisper-large's 00003)
        assert summary.startswith("9 nodes: 8 ready, 1 not ready · GPUs 32: 22 allocated, 6 free (L4 4, "
                                  "A100-SXM4-80GB 2)")
        t.move_to("gpu-prod/a100-01")
        await pilot.pause()
        detail = str(app.screen.query_one("#detail").render())
        assert "inference/embedder-" in detail and "↳ embedder · models:/bge-large/3" in detail  # GPU -> pod -> model
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Drain node gpu-prod/a100-01?" in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(audit(tmp_path)), timeout=15)
        assert kget(kube, "node", "a100-01")["spec"]["unschedulable"] is True
        assert kget(kube, "pods", "-A", "--field-selector", "spec.nodeName=a100-01")["items"] == []
        entry = audit(tmp_path)[0]
        assert (entry["origin"], entry["command"], entry["result"]) == ("ui", "node drain", "ok")
        await wait_for(pilot, lambda: (r := t.row("gpu-prod/a100-01")) is not None and r.cells[2] ==
                       "Ready,Cordoned")


async def test_scale_prompts_for_n_and_cancel_changes_nothing(kube: KubeFake, tmp_path: Path) -> None:
    app = app_on(kube, tmp_path, "deployments")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        t = table(app, "deployments")
        t.move_to("deploy:gpu-prod/inference/router")
        await pilot.press("s")
        assert app.screen.query_one("#command-line").value == "deploy scale gpu-prod/inference/router "  # type: ignore[attr-defined]
        await pilot.press("4", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Scale gpu-prod/inference/router from 2 to 4 replicas?" in dialog_text(app)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 2 and audit(tmp_path) == []
        await pilot.press("s", "4", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(audit(tmp_path)), timeout=15)
        assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 4
        assert audit(tmp_path)[0]["previous"] == {"replicas": 2}


async def test_rollback_picks_a_revision_from_the_history(kube: KubeFake, tmp_path: Path) -> None:
    app = app_on(kube, tmp_path, "deployments")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        table(app, "deployments").move_to("deploy:gpu-prod/inference/llama-70b")
        await pilot.pause()
        assert "a100-02: 2 pods, 8 GPUs" in str(app.screen.query_one("#detail").render())
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
        assert [v for v, _ in app.screen.options] == ["1"]  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert ("Roll back gpu-prod/inference/llama-70b from revision 2 (vllm/vllm-openai:v0.6.1) to revision 1 "
                "(vllm/vllm-openai:v0.5.4, model models:/llama-70b-chat/7)?") in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(audit(tmp_path)), timeout=15)
        d = kget(kube, "deploy", "llama-70b", "-n", "inference")
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "vllm/vllm-openai:v0.5.4"


async def test_isvc_keys_and_read_only_cluster(kube: KubeFake, tmp_path: Path) -> None:
    app = app_on(kube, tmp_path, "deployments")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        table(app, "deployments").move_to("isvc:gpu-prod/inference/mistral-7b")
        await pilot.pause()
        assert app.screen.check_action("scale", ()) is None  # a Deployment key: shown disabled on an isvc
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "canaryTrafficPercent 10% -> unset (all traffic to mistral-7b-predictor-00003)" in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(audit(tmp_path)), timeout=15)
        isvc = kget(kube, "isvc", "mistral-7b", "-n", "inference")
        assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]

    app = app_on(kube, tmp_path, "deployments", read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.screen.check_action("scale", ()) is False and app.screen.check_action("history", ()) is True


async def test_forbidden_nodes_say_so(kube: KubeFake, tmp_path: Path) -> None:
    kube.api.forbidden |= {("viewer", "list", "nodes"), ("viewer", "watch", "nodes")}
    config = replace(demo_config(audit_path=tmp_path / "audit.jsonl"),
                     sources=(kube_source("lab", kube.kubeconfig, "viewer"),))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="nodes")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        t = table(app, "nodes")
        assert t.row_count == 0 and t.empty_text == "lab: forbidden: list nodes"
        assert "lab: forbidden: list nodes" in str(app.screen.query_one("#nodes-summary").render())


async def test_changes_made_elsewhere_arrive_by_watch_without_polling(kube: KubeFake, tmp_path: Path) -> None:
    from tests.kube_helpers import kubectl

    app = app_on(kube, tmp_path, "nodes", watch=True)  # refresh_seconds=0: no timed polls at all
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.hub.health("gpu-prod").state.value == "ok")
        await pilot.pause(0.5)  # the watches are open
        kubectl(kube, "cordon", "cpu-02")
        t = table(app, "nodes")
        await wait_for(pilot, lambda: (r := t.row("gpu-prod/cpu-02")) is not None and r.cells[2] == "Ready,Cordoned",
                       timeout=10)
        kubectl(kube, "scale", "deployment/router", "-n", "inference", "--replicas=5")
        await wait_for(pilot, lambda: any(d.name == "router" and d.ready == 5
                                          for d in app.inventory.deployments()), timeout=10)


async def test_models_screen_promotes_and_rolls_back_an_alias(kube: KubeFake, db: Path, tmp_path: Path) -> None:
    from cockpit.sandbox import LazyRegistry

    config = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl", registry=LazyRegistry(db))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="models")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        t = table(app, "models")
        row = t.row("registry/llama-70b-chat")
        assert row is not None and row.cells[3:5] == ("production=v8 staging=v8", "1 workload: v8")
        t.move_to("registry/llama-70b-chat")
        await wait_for(pilot, lambda: "v7  READY" in str(app.screen.query_one("#detail").render()))
        assert "↳ gpu-prod/inference/llama-70b (2/2)" in str(app.screen.query_one("#detail").render())
        await pilot.press("P")
        assert app.screen.query_one("#command-line").value == "model promote registry/llama-70b-chat 8 --alias "  # type: ignore[attr-defined]
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace",
                          "backspace", "backspace", "backspace", *"7 --alias production", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Move alias production of registry/llama-70b-chat from v8 to v7?" in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(audit(tmp_path)) == 1, timeout=20)
        from mlflow import MlflowClient

        reg = MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")
        assert int(reg.get_registered_model("llama-70b-chat").aliases["production"]) == 7
        await wait_for(pilot, lambda: (r := t.row("registry/llama-70b-chat")) is not None
                       and r.cells[3] == "production=v7 staging=v8", timeout=10)
        await pilot.press("b")  # two aliases: pick which
        await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.press("enter")  # production, the first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "back from v7 to v8" in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: len(audit(tmp_path)) == 2, timeout=20)
        assert int(reg.get_registered_model("llama-70b-chat").aliases["production"]) == 8
        assert audit(tmp_path)[1]["previous"] == {"alias": "production", "version": 7}


async def test_costs_split_by_namespace_and_workload_and_the_deployments_column(kube: KubeFake, tmp_path: Path
                                                                                  ) -> None:
    app = app_on(kube, tmp_path, "costs")
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("b", "b", "b", "b")  # machine -> provider -> source -> region -> namespace
        t = table(app, "costs")
        # pretrain-7b on h100-01 (bare metal, the on-prem model): 8 x 2.20 + 2 x 0.015 + 8 x 0.002 = 17.646
        row = t.row("namespace:gpu-prod/training")
        assert row is not None and row.cells[:5] == ("training", "gpu-prod", "namespace", "1 pod", "$17.65")
        assert t.visible_keys()[-1] == "namespace:(idle)"
        summary = str(app.screen.query_one("#costs-summary").render())
        assert "split by pod requests" in summary and "by namespace" in summary
        t.move_to("namespace:gpu-prod/training")
        await pilot.pause()
        assert "pretrain-7b-" in str(app.screen.query_one("#detail").render())
        await pilot.press("b")  # by workload
        # llama-70b: 2 replicas x (4 x 1.30 + 2 x 0.015 + 8 x 0.002) on the A100 nodes = 10.492
        llama = t.row("deployment:gpu-prod/inference/Deployment/llama-70b")
        assert llama is not None and llama.cells[:5] == ("inference/llama-70b", "gpu-prod", "Deployment", "2 pods",
                                                         "$10.49")
        await pilot.press("5")
        await wait_for(pilot, lambda: table(app, "deployments").row("deploy:gpu-prod/inference/llama-70b") is not None)
        deploys = table(app, "deployments")
        cost = [c.key for c in deploys.columns].index("cost")
        assert deploys.row("deploy:gpu-prod/inference/llama-70b").cells[cost] == "$10.49"  # type: ignore[union-attr]
        assert deploys.row("deploy:gpu-prod/inference/router").cells[cost] == "$0.092"  # type: ignore[union-attr]
