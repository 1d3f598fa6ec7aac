"""`cost spend`: what the clouds' billing says was charged (AWS Cost Explorer, Azure Cost
Management), month to date or over the last N days, per source, service or day, with the month's
forecast (charged so far plus the burn rate for the hours left). Compute Engine is named with why
it is not read (Google gives actual costs only as a BigQuery billing export). The answers, and
the hour they are kept, come from cockpit.state.spend, which the Costs screen reads too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from cockpit import format as fmt
from cockpit.commands.costs import burn_now
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import BadInput
from cockpit.spend import Spend, last_days, month_forecast, month_to_date
from cockpit.state.spend import billed_sources, gather_spend


def _window(ctx: Context, args: Mapping[str, Any]) -> tuple[date, date, str]:
    today = ctx.hub.now().date()
    days = args.get("days")
    if days is None:
        start, end = month_to_date(today)
        return start, end, f"month to date ({start.isoformat()} to {today.isoformat()})"
    if not 1 <= days <= 366:
        raise BadInput(f"--days: {days} is not between 1 and 366")
    start, end = last_days(today, days)
    return start, end, f"the last {fmt.plural(days, 'day')} ({start.isoformat()} to {today.isoformat()})"


def _notes(s: Spend) -> str:
    notes = ["estimated (the provider may still revise it)"] if s.estimated else []
    notes += [] if s.lines else ["no charges in this window"]
    notes += [f"{scope} missing: {why}" for scope, why in s.missing]
    return "; ".join(notes)


def _plan(ctx: Context, args: Mapping[str, Any]) -> Plan:
    start, end, said = _window(ctx, args)
    by = args.get("by") or "source"
    names = billed_sources(ctx.hub, args.get("source"))
    if args.get("source") and not names:
        raise BadInput(f"--source: {args['source']} is not a cloud source (cost spend reads aws, azure and gcp)")

    def run() -> Outcome:
        if not names:
            return Outcome(data={"sources": [], "not_read": []},
                           text="no cloud source in the config: actual spend comes from AWS and Azure billing")
        answer = gather_spend(ctx.hub, names, start, end)
        forecasts: dict[str, float | None] = {}
        burns: dict[str, float] = {}
        if args.get("days") is None:  # the month's forecast needs the burn rate now
            _, b, _, _ = burn_now(ctx, {})
            burns = {line.key: line.hourly for line in b.by_source}
            forecasts = {s.source: month_forecast(s.total, burns.get(s.source, 0.0), ctx.hub.now())
                         for s in answer.spends}
        rows: list[tuple[str, ...]] = []
        for s in answer.spends:
            if by == "service":
                rows += [(s.source, group, fmt.dollars(amount), f"{amount / s.total:.0%}" if s.total else "-")
                         for group, amount in s.by_group()]
            elif by == "day":
                rows += [(s.source, day.isoformat(), fmt.dollars(amount)) for day, amount in s.by_day()]
            else:
                forecast = forecasts.get(s.source)
                rows.append((s.source, s.api, fmt.dollars(s.total) + ("" if s.currency == "USD" else f" {s.currency}"),
                             fmt.dollars(forecast) if forecast is not None else "-", _notes(s)))
        if by == "source":
            rows += [(name, "-", "not read", "-", why) for name, why in answer.not_read]
        columns = {"service": ("SOURCE", "SERVICE", "CHARGED", "SHARE"), "day": ("SOURCE", "DAY", "CHARGED"),
                   "source": ("SOURCE", "FROM", "CHARGED", "MONTH FORECAST", "NOTE")}[by]
        data = {"window": {"start": start.isoformat(), "end": end.isoformat(), "said": said},
                "sources": [{"source": s.source, "provider": s.provider, "api": s.api, "scope": s.scope,
                             "currency": s.currency, "charged": s.total, "estimated": s.estimated,
                             "burn_hourly_usd": burns.get(s.source), "month_forecast": forecasts.get(s.source),
                             "by_service": [{"service": g, "charged": a} for g, a in s.by_group()],
                             "by_day": [{"day": d.isoformat(), "charged": a} for d, a in s.by_day()],
                             "missing": [{"scope": sc, "why": w} for sc, w in s.missing]} for s in answer.spends],
                "not_read": [{"source": n, "why": w} for n, w in answer.not_read]}
        text = f"charged {said}, as each provider's billing says (it lags by hours)"
        if forecasts:
            text += "; month forecast = charged so far + the burn rate now for the hours left"
        if by != "source":
            text += "".join(f"\n{n}: not read: {w}" for n, w in answer.not_read)
        return Outcome(data=data, text=text, table=Table(columns, tuple(rows)), error=answer.error)

    return Plan("cost spend", f"charges {said}", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("cost", "spend"), "what AWS Cost Explorer and Azure Cost Management say was charged, month "
                        "to date (with the month's forecast) or over the last N days", _plan, (
        Param("--days", "the last N days instead of the month to date", kind="int", metavar="N"),
        Param("--by", "rows per source (default), service or day", kind="choice", choices=("source", "service", "day"),
              metavar="source|service|day"),
        Param("--source", "only this source", kind="source", metavar="SOURCE"),
    )))
