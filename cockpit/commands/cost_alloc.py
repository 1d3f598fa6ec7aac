"""`cost by namespace` and `cost by deployment`: what each namespace and each workload costs per
hour, its nodes' prices split across pods by their requests (cockpit.allocation), with the
capacity no pod requested as an idle line, so the lines add up to what the clusters cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.allocation import IDLE, NAMESPACE, WORKLOAD, Allocation, allocate
from cockpit.commands.costs import SOURCE_OPT, fleet
from cockpit.commands.registry import CommandSpec, Context, Outcome, Plan, Registry, Table
from cockpit.costs import HOURS_PER_MONTH
from cockpit.prices import current


def allocation_dict(a: Allocation, dim: str) -> dict[str, Any]:
    return {"hourly_usd": a.hourly, "month_usd": round(a.hourly * HOURS_PER_MONTH, 2),
            "lines": [{"key": s.key, "hourly_usd": s.hourly, "gpu_usd": s.gpu, "cpu_usd": s.cpu,
                       "memory_usd": s.memory, ("nodes" if s.key == IDLE else "pods"): s.pods} for s in a.by(dim)],
            "unpriced": [{"node": r, "why": w} for r, w in a.unpriced]}


def _by(dim: str, word: str) -> CommandSpec:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        def run() -> Outcome:
            _, snaps, error = fleet(ctx, args)
            cat = current()
            a = allocate(snaps, cat, ctx.hub.config.onprem)
            rows = tuple((s.key, f"{s.pods} node{'s' if s.pods != 1 else ''}" if s.key == IDLE else str(s.pods),
                          fmt.dollars(s.gpu), fmt.dollars(s.cpu), fmt.dollars(s.memory), fmt.dollars(s.hourly),
                          fmt.dollars(s.hourly * HOURS_PER_MONTH), f"{s.hourly / a.hourly:.0%}" if a.hourly else "-")
                         for s in a.by(dim))
            lines = [f"prices: {cat.describe(ctx.hub.now().date())}; each node's price split across its pods by "
                     f"their requests (GPU, CPU, memory); {IDLE} is what no pod requested"]
            lines += [f"not counted: {ref}: {why}" for ref, why in a.unpriced]
            if not snaps and error is None:
                lines = ["no Kubernetes source: add one to config.toml (see README) or run cockpit --demo"]
            return Outcome(data=allocation_dict(a, dim), error=error, text="\n".join(lines), table=Table(
                (word.upper(), "PODS", "GPU $/H", "CPU $/H", "MEM $/H", "$/HOUR", "$/30 DAYS", "SHARE"), rows))

        return Plan(f"cost by {word}", f"cluster cost by {word}", run)

    return CommandSpec(("cost", "by", word), f"cluster cost per {word}, from pod requests, with the idle capacity",
                       planner, (SOURCE_OPT,))


def register(reg: Registry) -> None:
    reg.add(_by(NAMESPACE, "namespace"))
    reg.add(_by(WORKLOAD, "deployment"))
