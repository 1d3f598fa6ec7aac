"""`cost ...`: the burn rate of every machine source now, from the price catalogue and the on-prem
cost model, in total, per provider, source or region, and per machine. Every answer names the
catalogue and its age; a machine without a price is listed with the reason, never counted as 0."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from cockpit import format as fmt
from cockpit.allocation import budgets_now
from cockpit.commands.common import gather
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import CLUSTERS, MACHINES, BadInput, CockpitError
from cockpit.costs import (
    HOURS_PER_MONTH,
    Burn,
    billed,
    burn,
    compare,
    gpu_names,
    machine_rate,
    node_rate,
)
from cockpit.model import Machine
from cockpit.model_kube import ClusterSnapshot, KubeNode
from cockpit.prices import Catalogue, current
from cockpit.state.gather import merged
from cockpit.state.offers import compare_columns, compare_rows, free_hpc

SOURCE_OPT = Param("--source", "only this source", kind="source", metavar="SOURCE")


def fleet(ctx: Context, args: Mapping[str, Any]) -> tuple[list[Machine], list[ClusterSnapshot], CockpitError | None]:
    """Every machine and every cluster (of `--source` only, when given), asked at once."""
    wanted = args.get("source")

    def of(role: str) -> list[str]:
        return [s.name for s in ctx.hub.sources(role) if wanted in (None, s.name)]

    machines, e1 = gather(ctx, of("machines"), MACHINES, lambda b: b.list_machines())
    snaps, e2 = gather(ctx, of("clusters"), CLUSTERS, lambda b: [b.snapshot()])
    return machines, snaps, merged((e1, e2))


def nodes_of(snaps: list[ClusterSnapshot]) -> list[KubeNode]:
    return [n for snap in snaps for n in snap.nodes]


def burn_now(ctx: Context, args: Mapping[str, Any]
             ) -> tuple[Catalogue, Burn, list[ClusterSnapshot], CockpitError | None]:
    """The fleet's burn now, from the catalogue in use: what `cost now`, `cost by` and `cost
    budgets` start from (the clusters too, for the namespace budgets)."""
    machines, snaps, error = fleet(ctx, args)
    cat = current()
    return cat, burn(machines, cat, ctx.hub.config.onprem, nodes_of(snaps)), snaps, error


def _footer(cat: Catalogue, b: Burn, today: date) -> str:
    lines = [f"prices: {cat.describe(today)}; on-prem machines from the on-prem cost model"]
    lines += [f"not counted: {ref}: {why}" for ref, why in b.unpriced]
    return "\n".join(lines)


def burn_dict(cat: Catalogue, b: Burn, today: date) -> dict[str, Any]:
    def lines(ls: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"key": line.key, "hourly_usd": line.hourly, "machines": line.machines} for line in ls]

    return {"hourly_usd": b.hourly, "month_usd": round(b.month, 2), "hours_per_month": HOURS_PER_MONTH,
            "machines_priced": b.priced, "unpriced": [{"ref": r, "why": w} for r, w in b.unpriced],
            "by_provider": lines(b.by_provider), "by_source": lines(b.by_source), "by_region": lines(b.by_region),
            "catalogue": {"name": cat.name, "as_of": cat.as_of.isoformat(),
                          "age_days": cat.age_days(today)}}


def _now(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        cat, b, _, error = burn_now(ctx, args)
        rows = tuple((line.key, str(line.machines), fmt.dollars(line.hourly),
                      fmt.dollars(line.hourly * HOURS_PER_MONTH)) for line in b.by_provider)
        rows += (("total", str(b.priced), fmt.dollars(b.hourly), fmt.dollars(b.month)),)
        text = _footer(cat, b, ctx.hub.now().date())
        return Outcome(data=burn_dict(cat, b, ctx.hub.now().date()),
                       table=Table(("PROVIDER", "MACHINES", "$/HOUR", "$/30 DAYS"), rows),
                       text=text, error=error)

    return Plan("cost now", "burn rate now", run)


def _by(dim: str) -> CommandSpec:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        def run() -> Outcome:
            cat, b, _, error = burn_now(ctx, args)
            lines = {"provider": b.by_provider, "source": b.by_source, "region": b.by_region}[dim]
            rows = tuple((line.key, str(line.machines), fmt.dollars(line.hourly),
                          fmt.dollars(line.hourly * HOURS_PER_MONTH), f"{line.hourly / b.hourly:.0%}" if b.hourly
                          else "-") for line in lines)
            today = ctx.hub.now().date()
            return Outcome(data=burn_dict(cat, b, today), error=error, text=_footer(cat, b, today),
                           table=Table((dim.upper(), "MACHINES", "$/HOUR", "$/30 DAYS", "SHARE"), rows))

        return Plan(f"cost by {dim}", f"burn rate by {dim}", run)

    return CommandSpec(("cost", "by", dim), f"burn rate per {dim}", planner, (SOURCE_OPT,))


def _machine_costs(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        machines, snaps, error = fleet(ctx, args)
        nodes = nodes_of(snaps)
        cat = current()
        rows = []
        data = []
        for m in sorted(machines, key=lambda m: m.ref):
            rate = machine_rate(m, cat, ctx.hub.config.onprem)
            on = billed(m)
            rows.append((m.ref, fmt.machine_type(m), m.state.value, fmt.dollars(rate.hourly) if on else "$0 (off)",
                         rate.basis or rate.why))
            data.append({"ref": m.ref, "machine_type": m.machine_type, "lifecycle": m.lifecycle,
                         "state": m.state.value, "billed": on, "hourly_usd": rate.hourly if on else 0.0,
                         "rate_when_on_usd": rate.hourly, "basis": rate.basis, "why": rate.why or None})
        for n in sorted(nodes, key=lambda n: (n.source, n.name)):
            rate = node_rate(n, cat, ctx.hub.config.onprem)
            ref = f"{n.source}/{n.name}"
            rows.append((ref, n.instance_type or "-", n.status, fmt.dollars(rate.hourly), rate.basis or rate.why))
            data.append({"ref": ref, "machine_type": n.instance_type or None, "lifecycle": None, "state": n.status,
                         "billed": True, "hourly_usd": rate.hourly, "rate_when_on_usd": rate.hourly,
                         "basis": rate.basis, "why": rate.why or None, "node": True})
        text = f"prices: {cat.describe(ctx.hub.now().date())}; a machine that is off costs nothing by the hour"
        return Outcome(data=data, error=error, text=text,
                       table=Table(("MACHINE", "TYPE", "STATE", "$/HOUR", "PRICE FROM"), tuple(rows)))

    return Plan("cost machines", "what each machine costs per hour", run)


def _compare(ctx: Context, args: Mapping[str, Any]) -> Plan:
    gpu, count, hours = args["gpu"], args["count"] or 1, args["hours"] or 1
    cat = current()
    if gpu.lower() not in {g.lower() for g in gpu_names(cat)}:
        raise BadInput(f"--gpu: no {gpu!r} in the {cat.name} catalogue (it has: {', '.join(gpu_names(cat))})")

    def run() -> Outcome:
        quotes = compare(cat, gpu, count, hours, spot=args["spot"], region_prefix=args["region_prefix"] or "")
        hpc, error = free_hpc(ctx.hub, gpu)
        rows = compare_rows(quotes, hpc, gpu, count, hours, ctx.hub.config.onprem)
        capacity = "spot" if args["spot"] else "on-demand"
        where = f" in {args['region_prefix']}*" if args["region_prefix"] else ""
        text = (f"{count}×{gpu} for {hours:g} h, {capacity}; prices: {cat.describe(ctx.hub.now().date())}"
                if quotes else f"no {count}×{gpu} offer{where} in the {cat.name} catalogue ({capacity})")
        data = {"gpu": gpu, "count": count, "hours": hours, "spot": args["spot"],
                "quotes": [{"cloud": q.cloud, "region": q.region, "machine_type": q.machine_type,
                            "hourly_usd": q.hourly, "total_usd": q.total, "saving_vs_dearest": q.saving}
                           for q in quotes],
                "hpc_free": [{"source": s, "gpus": n} for s, n in sorted(hpc.items())],
                "catalogue": {"name": cat.name, "as_of": cat.as_of.isoformat()}}
        return Outcome(data=data, error=error, text=text, table=Table(compare_columns(hours), rows))

    return Plan("cost compare", f"compare {count}×{gpu}", run)


def _budgets(ctx: Context, args: Mapping[str, Any]) -> Plan:
    budgets = ctx.hub.config.budgets

    def run() -> Outcome:
        if not budgets:
            return Outcome(data=[], text="no budgets: add [costs.budgets] to config.toml (a source, or a cluster's "
                           "\"SOURCE/NAMESPACE\" = $ per month)")
        cat, b, snaps, error = burn_now(ctx, {})
        uses = budgets_now(b, budgets, snaps, cat, ctx.hub.config.onprem)
        rows = tuple((u.key, u.kind, fmt.dollars(u.budget), fmt.dollars(u.projected), f"{u.ratio:.0%}",
                      f"over by {fmt.dollars(u.projected - u.budget)}" if u.over else "within") for u in uses)
        data = [{"budget": u.key, "kind": u.kind, "budget_usd": u.budget, "projected_usd": u.projected,
                 "ratio": round(u.ratio, 4), "over": u.over} for u in uses]
        return Outcome(data=data, error=error, text=_footer(cat, b, ctx.hub.now().date()),
                       table=Table(("BUDGET", "KIND", "BUDGET/MONTH", "PROJECTED", "USE", "STATUS"), rows))

    return Plan("cost budgets", "budgets against the month projected from the burn now", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("cost", "now"), "burn rate now and over 30 days, per provider", _now, (SOURCE_OPT,)))
    for dim in ("provider", "source", "region"):
        reg.add(_by(dim))
    reg.add(CommandSpec(("cost", "machines"), "what each machine and Kubernetes node costs per hour, and where the "
                        "price comes from",
                        _machine_costs, (SOURCE_OPT,)))
    reg.add(CommandSpec(("cost", "budgets"), "each budgeted source's projected month against its budget",
                        _budgets, ()))
    reg.add(CommandSpec(("cost", "compare"), "the cheapest cloud and region for N GPUs of a model, and free HPC GPUs",
                        _compare, (
        Param("--gpu", "the GPU model as the catalogue names it (A100, A100-80GB, H100, L4...)", required=True,
              metavar="MODEL"),
        Param("--count", "GPUs per instance (default 1)", kind="int", metavar="N"),
        Param("--hours", "hours of use, for the total (default 1)", kind="int", metavar="H"),
        Param("--spot", "spot prices", kind="flag"),
        Param("--region-prefix", "only regions starting so (us-, europe-)", metavar="PREFIX"),
    )))
