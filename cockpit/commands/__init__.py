"""The command layer shared by the script mode, the `:` command line and the palette."""

from __future__ import annotations

from cockpit.commands.examples import with_examples
from cockpit.commands.registry import CommandSpec, Context, Invocation, Outcome, Plan, Registry, Result, Table


def build_registry() -> Registry:
    from cockpit.commands import (
        builtin,
        cost_alloc,
        cost_catalogue,
        cost_idle,
        cost_spend,
        costs,
        deploy,
        metrics,
        model_deploy,
        models,
        nodes,
        ops,
        rollout,
        serving,
        vm,
    )

    reg = Registry()
    vm.register(reg)
    nodes.register(reg)
    deploy.register(reg)
    serving.register(reg)
    models.register(reg)
    model_deploy.register(reg)
    metrics.register(reg)
    costs.register(reg)
    cost_alloc.register(reg)
    cost_idle.register(reg)
    cost_catalogue.register(reg)
    cost_spend.register(reg)
    ops.register(reg)
    rollout.register(reg)
    builtin.register(reg)
    return with_examples(reg)


__all__ = ["CommandSpec", "Context", "Invocation", "Outcome", "Plan", "Registry", "Result", "Table",
           "build_registry"]
