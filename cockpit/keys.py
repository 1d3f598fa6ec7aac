"""Every key binding id the UI has (what `?` lists and `[keys]` in config.toml remaps), so that a
`[keys]` entry naming none of them is a config error with its file:line: a typo would otherwise
leave the key as it was, silently. The screens define the bindings; tests/test_config.py fails
when this list and theirs differ."""

from __future__ import annotations

BINDING_IDS: frozenset[str] = frozenset({
    "app.back", "app.command_line", "app.help", "app.quit", "app.quit_asking", "app.refresh", "audit.filter",
    "command.close", "command.complete", "command.newer", "command.older", "command.run", "compare.cancel",
    "confirm.cancel", "confirm.yes", "costs.compare", "costs.detail", "costs.filter", "costs.group",
    "deployments.canary", "deployments.detail", "deployments.filter", "deployments.history", "deployments.hpa",
    "deployments.promote", "deployments.restart", "deployments.rollback", "deployments.scale",
    "deployments.set_image", "filter.clear", "machines.destroy", "machines.detail", "machines.filter",
    "machines.force_off", "machines.provision", "machines.reboot", "machines.resume", "machines.start",
    "machines.stop", "machines.suspend", "machines.xml", "metrics.detail", "metrics.filter", "metrics.plot",
    "metrics.step", "metrics.window", "models.compare", "models.deploy", "models.detail", "models.filter",
    "models.history", "models.promote", "models.rollback", "nodes.cordon", "nodes.detail", "nodes.drain",
    "nodes.filter", "nodes.gpu_only", "nodes.uncordon", "operations.cancel", "operations.filter", "overview.bottom",
    "overview.down", "overview.page_down", "overview.page_up", "overview.top", "overview.up", "pick.cancel",
    "provision.cancel", "provision.complete", "provision.plan", "result.close", "result.filter", "rollout.abort",
    "rollout.down", "rollout.end", "rollout.pause", "rollout.promote", "rollout.up", "table.bottom", "table.down",
    "table.mark", "table.mark_all", "table.page_down", "table.page_up", "table.sort", "table.sort_reverse",
    "table.top", "table.up", "text.close", "view.audit", "view.costs", "view.deployments", "view.machines",
    "view.metrics", "view.models", "view.nodes", "view.overview",
})

MAIN, OFTEN, SOMETIMES, RARE = 1, 2, 3, 4
"""Footer ranks. At 80 columns a footer has room for about ten bindings and a screen has up to a
dozen, so each binding has a rank and the footer shows the best ranked that fit, `? Help` always
last. MAIN: the screen's own verbs, its filter and detail, the command line: they must fit at 80
columns beside `? Help` (tests/test_footer.py checks every screen). OFTEN: next, as room allows.
SOMETIMES: any binding not listed. RARE: dangerous or seldom used (force off, destroy, XML): wide
terminals show them; everywhere they stay in `?` and in the ctrl+p palette. Within a rank, the
screen's own bindings come first, in the order its BINDINGS list gives."""

FOOTER_RANK: dict[str, int] = {
    # everywhere
    "app.help": MAIN, "app.command_line": MAIN,
    # an open command line or filter box: what closes or completes it
    "command.close": MAIN, "command.complete": MAIN, "filter.clear": MAIN,
    "result.filter": MAIN, "result.close": MAIN,
    # dialogs (their own keys, should a footer ever show them)
    "confirm.yes": MAIN, "confirm.cancel": MAIN, "text.close": MAIN, "pick.cancel": MAIN,
    "provision.plan": MAIN, "provision.cancel": MAIN, "provision.complete": MAIN, "compare.cancel": MAIN,
    # the views
    "machines.filter": MAIN, "machines.start": MAIN, "machines.stop": MAIN, "machines.provision": MAIN,
    "machines.detail": MAIN, "machines.reboot": OFTEN, "machines.suspend": OFTEN, "machines.resume": OFTEN,
    "machines.force_off": RARE, "machines.destroy": RARE, "machines.xml": RARE,
    "nodes.filter": MAIN, "nodes.cordon": MAIN, "nodes.uncordon": MAIN, "nodes.drain": MAIN, "nodes.detail": MAIN,
    "models.filter": MAIN, "models.promote": MAIN, "models.rollback": MAIN, "models.deploy": MAIN,
    "models.detail": MAIN, "models.compare": OFTEN, "models.history": OFTEN,
    "deployments.filter": MAIN, "deployments.scale": MAIN, "deployments.restart": MAIN,
    "deployments.rollback": MAIN, "deployments.promote": MAIN, "deployments.detail": MAIN,
    "deployments.history": OFTEN, "deployments.set_image": OFTEN, "deployments.canary": OFTEN,
    "deployments.hpa": OFTEN,
    "costs.filter": MAIN, "costs.group": MAIN, "costs.compare": MAIN, "costs.detail": MAIN,
    "metrics.filter": MAIN, "metrics.window": MAIN, "metrics.step": MAIN, "metrics.plot": MAIN,
    "metrics.detail": MAIN,
    "audit.filter": MAIN,
    "operations.filter": MAIN, "operations.cancel": MAIN,
    "rollout.promote": MAIN, "rollout.pause": MAIN, "rollout.abort": MAIN,
}
