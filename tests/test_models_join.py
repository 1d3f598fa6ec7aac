"""Which workloads serve a registry version: the join behind the Models screen's SERVING column."""

from __future__ import annotations

from cockpit.model_kube import ClusterSnapshot, Deployment, InferenceService, RolloutState
from cockpit.state.inventory import Inventory
from screens.models import served_by


def deploy(name: str, model: str) -> Deployment:
    return Deployment("k", "ml", name, 2, 2, 2, 2, ("img",), 1, RolloutState.COMPLETE, "ok", model=model)


def test_served_by_version_alias_and_storage_uri() -> None:
    isvc = InferenceService("k", "ml", "scorer", True, "", "s3://m/fraud/v5", "xgboost", None, "", "", "")
    snap = ClusterSnapshot("k", "ctx", "https://k", deployments=(
        deploy("a", "models:/fraud/5"), deploy("b", "models:/fraud@production"), deploy("c", "models:/fraud/4"),
    ), inference_services=(isvc,))
    inv = Inventory(clusters={"k": snap})
    assert served_by(inv, "fraud", 5, "s3://m/fraud/v5", ("production",)) == [
        "k/ml/a (2/2)", "k/ml/b (2/2)", "k/ml/scorer (isvc)"]
    assert served_by(inv, "fraud", 5) == ["k/ml/a (2/2)"]
    assert served_by(inv, "fraud", 4, "s3://m/fraud/v4") == ["k/ml/c (2/2)"]
