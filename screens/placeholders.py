"""Screens whose backends have not been built yet. They say so plainly and show no data:
an invented GPU or price would be worse than an empty screen."""

from __future__ import annotations

from textual.app import ComposeResult

from screens.base import CockpitScreen
from screens.widgets.empty_state import EmptyState

NOT_YET = "This version of cockpit has no {what} backend yet, so there is nothing to show here."


class CostsScreen(CockpitScreen):
    VIEW = "costs"

    def compose_body(self) -> ComposeResult:
        yield EmptyState(
            "Costs: no price data",
            NOT_YET.format(what="cost"),
            "Costs will come from a shipped price catalogue and the cloud billing APIs; libvirt machines "
            "will use a per-GPU-hour rate you set in config.toml.",
        )
