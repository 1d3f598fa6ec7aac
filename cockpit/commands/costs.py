"""`cost ...`: the burn rate of every machine source now, from the price catalogue and the on-prem
cost model, in total, per provider, source or region, and per machine. Every answer names the
catalogue and its age; a machine without a price is listed with the reason, never counted as 0."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cockpit import format as fmt
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.costs import HOURS_PER_MONTH, Burn, billed, burn, machine_rate
from cockpit.model import Machine
from cockpit.prices import Catalogue, current

SOURCE_OPT = Param("--source", "only this source", kind="source", metavar="SOURCE")


def _machines(ctx: Context, args: Mapping[str, Any]) -> tuple[list[Machine], Any]:
    return gather(ctx, sources_of(ctx, args, "machines"), lambda b: b.list_machines())


def _footer(cat: Catalogue, b: Burn) -> str:
    lines = [f"prices: {cat.describe(datetime.now(UTC).date())}; on-prem machines from the on-prem cost model"]
    lines += [f"not counted: {ref}: {why}" for ref, why in b.unpriced]
    return "\n".join(lines)


def burn_dict(cat: Catalogue, b: Burn) -> dict[str, Any]:
    def lines(ls: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [{"key": line.key, "hourly_usd": line.hourly, "machines": line.machines} for line in ls]

    return {"hourly_usd": b.hourly, "month_usd": round(b.month, 2), "hours_per_month": HOURS_PER_MONTH,
            "machines_priced": b.priced, "unpriced": [{"ref": r, "why": w} for r, w in b.unpriced],
            "by_provider": lines(b.by_provider), "by_source": lines(b.by_source), "by_region": lines(b.by_region),
            "catalogue": {"name": cat.name, "as_of": cat.as_of.isoformat(),
                          "age_days": cat.age_days(datetime.now(UTC).date())}}


def _now(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        machines, error = _machines(ctx, args)
        cat = current()
        b = burn(machines, cat, ctx.hub.config.onprem)
        rows = tuple((line.key, str(line.machines), fmt.dollars(line.hourly),
                      fmt.dollars(line.hourly * HOURS_PER_MONTH)) for line in b.by_provider)
        rows += (("total", str(b.priced), fmt.dollars(b.hourly), fmt.dollars(b.month)),)
        text = _footer(cat, b)
        return Outcome(data=burn_dict(cat, b), table=Table(("PROVIDER", "MACHINES", "$/HOUR", "$/30 DAYS"), rows),
                       text=text, error=error)

    return Plan("cost now", "burn rate now", run)


def _by(dim: str) -> CommandSpec:
    def planner(ctx: Context, args: Mapping[str, Any]) -> Plan:
        def run() -> Outcome:
            machines, error = _machines(ctx, args)
            cat = current()
            b = burn(machines, cat, ctx.hub.config.onprem)
            lines = {"provider": b.by_provider, "source": b.by_source, "region": b.by_region}[dim]
            rows = tuple((line.key, str(line.machines), fmt.dollars(line.hourly),
                          fmt.dollars(line.hourly * HOURS_PER_MONTH), f"{line.hourly / b.hourly:.0%}" if b.hourly
                          else "-") for line in lines)
            return Outcome(data=burn_dict(cat, b), error=error, text=_footer(cat, b),
                           table=Table((dim.upper(), "MACHINES", "$/HOUR", "$/30 DAYS", "SHARE"), rows))

        return Plan(f"cost by {dim}", f"burn rate by {dim}", run)

    return CommandSpec(("cost", "by", dim), f"burn rate per {dim}", planner, (SOURCE_OPT,))


def _machine_costs(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        machines, error = _machines(ctx, args)
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
        text = f"prices: {cat.describe(datetime.now(UTC).date())}; a machine that is off costs nothing by the hour"
        return Outcome(data=data, error=error, text=text,
                       table=Table(("MACHINE", "TYPE", "STATE", "$/HOUR", "PRICE FROM"), tuple(rows)))

    return Plan("cost machines", "what each machine costs per hour", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("cost", "now"), "burn rate now and over 30 days, per provider", _now, (SOURCE_OPT,)))
    for dim in ("provider", "source", "region"):
        reg.add(_by(dim))
    reg.add(CommandSpec(("cost", "machines"), "what each machine costs per hour, and where the price comes from",
                        _machine_costs, (SOURCE_OPT,)))
