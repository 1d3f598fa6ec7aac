"""Every key binding id the UI has (what `?` lists and `[keys]` in config.toml remaps), so that a
`[keys]` entry naming none of them is a config error with its file:line: a typo would otherwise
leave the key as it was, silently. The screens define the bindings; tests/test_config.py fails
when this list and theirs differ."""

from __future__ import annotations

BINDING_IDS: frozenset[str] = frozenset({
    "app.back", "app.command_line", "app.help", "app.quit", "app.quit_asking", "app.refresh", "audit.filter",
    "command.close", "command.complete", "compare.cancel", "confirm.cancel", "confirm.yes", "costs.compare",
    "costs.detail", "costs.filter", "costs.group", "deployments.canary", "deployments.detail", "deployments.filter",
    "deployments.history", "deployments.hpa", "deployments.promote", "deployments.restart", "deployments.rollback",
    "deployments.scale", "deployments.set_image", "filter.clear", "machines.destroy", "machines.detail",
    "machines.filter", "machines.force_off", "machines.provision", "machines.reboot", "machines.resume",
    "machines.start", "machines.stop", "machines.suspend", "machines.xml", "metrics.detail", "metrics.filter",
    "metrics.plot", "metrics.step", "metrics.window", "models.compare", "models.deploy", "models.detail",
    "models.filter", "models.history", "models.promote", "models.rollback", "nodes.cordon", "nodes.detail",
    "nodes.drain", "nodes.filter", "nodes.gpu_only", "nodes.uncordon", "operations.cancel", "operations.filter",
    "pick.cancel", "provision.cancel", "provision.plan", "rollout.abort", "rollout.down", "rollout.end",
    "rollout.pause", "rollout.promote", "rollout.up", "table.bottom", "table.down", "table.mark", "table.mark_all",
    "table.page_down", "table.page_up", "table.sort", "table.sort_reverse", "table.top", "table.up", "text.close",
    "view.audit", "view.costs", "view.deployments", "view.machines", "view.metrics", "view.models", "view.nodes",
    "view.overview",
})
