"""Screens whose backends have not been built yet. They say so plainly and show no data:
an invented GPU or price would be worse than an empty screen."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import CockpitScreen
from screens.widgets.empty_state import EmptyState

NOT_YET = "This version of cockpit has no {what} backend yet, so there is nothing to show here."


class ModelsScreen(CockpitScreen):
    VIEW = "models"

    def compose_body(self) -> ComposeResult:
        has_registry = bool(self.cockpit.hub.sources("registry"))
        yield EmptyState(
            "Models: the screen is not built yet" if has_registry else "Models: no MLflow registry",
            "The registry works from the command line (press : ), the same commands as --script: "
            "model list · model show NAME · model promote NAME VERSION --alias production · "
            "model rollback NAME --alias production · model alias-history NAME · model compare NAME V1 V2 · "
            "model tag NAME KEY=VALUE.",
            "A registry source in config.toml:" if not has_registry else "",
            '[sources.registry]\nkind = "mlflow"\ntracking_uri = "https://mlflow.internal"' if not has_registry
            else "",
        )


class CostsScreen(CockpitScreen):
    VIEW = "costs"

    def compose_body(self) -> ComposeResult:
        yield EmptyState(
            "Costs: no price data",
            NOT_YET.format(what="cost"),
            "Costs will come from a shipped price catalogue and the cloud billing APIs; libvirt machines "
            "will use a per-GPU-hour rate you set in config.toml.",
        )


class MetricsScreen(CockpitScreen):
    VIEW = "metrics"

    def compose_body(self) -> ComposeResult:
        yield EmptyState(
            "Metrics: no Prometheus source",
            NOT_YET.format(what="Prometheus or local-GPU (NVML)"),
            "When it lands, add Prometheus (with the DCGM exporter) to config.toml:",
            '[sources.prom]\nkind = "prometheus"\nurl = "http://prometheus:9090"',
        )
