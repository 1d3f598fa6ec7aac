"""The Costs screen's `spend` and `budgets` groupings. Spend: what the clouds' billing says was
charged this month, per source and service, beside the month's forecast (charged so far plus the
burn rate now for the hours left); the answers come from `cost spend`'s gather in a worker (kept
an hour: Cost Explorer bills each request). Budgets: each `[costs.budgets]` entry against the month
projected from the burn now, as `cost budgets` and the Overview say it. These functions only lay
the figures out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from textual.content import Content

from cockpit import format as fmt
from cockpit.costs import BudgetUse
from cockpit.spend import Spend, month_forecast
from cockpit.state.spend import SpendAnswer
from screens.widgets.virtual_table import Row, tag_style

SPEND = "spend"
BUDGETS = "budgets"
BUDGET_HEADINGS = {"name": "BUDGET", "source": "KIND", "type": "", "state": "STATUS", "hourly": "BUDGET/MO",
                   "month": "PROJECTED", "share": "USE", "basis": "HOW"}
HEADINGS = {"name": "SERVICE", "type": "FROM", "state": "", "hourly": "CHARGED", "month": "MONTH FCST",
            "basis": "NOTE"}
"""The machine columns as the spend rows use them."""


def _note(s: Spend) -> str:
    notes = ["estimated"] if s.estimated else []
    notes += [f"{scope} missing: {why}" for scope, why in s.missing]
    return "; ".join(notes) or "month to date"


def rows(answer: SpendAnswer, burns: Mapping[str, float], now: datetime,
         colours: Mapping[str, str | None]) -> list[Row]:
    """Per source, its total (with the forecast), then its services, dearest first; then the
    sources whose billing is not read, with why."""
    out: list[Row] = []
    for s in answer.spends:
        style = tag_style(colours.get(s.source))
        forecast = month_forecast(s.total, burns.get(s.source, 0.0), now)
        out.append(Row(f"spend:{s.source}", (
            "(all services)", s.source, s.api, "", fmt.dollars(s.total),
            fmt.dollars(forecast) if forecast is not None else "-", "100%", _note(s)), style=style))
        out += [Row(f"spend:{s.source}:{group}", (
            group, s.source, s.api, "", fmt.dollars(amount), "", f"{amount / s.total:.0%}" if s.total else "-", ""),
            style=style) for group, amount in s.by_group()]
    out += [Row(f"spend:{name}", ("-", name, "not read", "", "-", "-", "-", why)) for name, why in answer.not_read]
    return out


def summary(answer: SpendAnswer | None, burns: Mapping[str, float], now: datetime) -> str:
    if answer is None:
        return "spend: asking Cost Explorer and Cost Management for the month to date..."
    charged = sum(s.total for s in answer.spends)
    forecast = sum(month_forecast(s.total, burns.get(s.source, 0.0), now) or 0.0 for s in answer.spends)
    text = (f"charged {fmt.dollars(charged)} this month · forecast {fmt.dollars(forecast)} · "
            f"{', '.join(s.source for s in answer.spends) or 'no source'} by their billing (it lags by hours)")
    if answer.not_read:
        text += f" · not read: {', '.join(n for n, _ in answer.not_read)}"
    return text + " · by spend"


def detail(answer: SpendAnswer | None, key: str, burns: Mapping[str, float], now: datetime) -> Content | None:
    """A source's days (a bar per day) and how its forecast is made."""
    if answer is None:
        return None
    name = key.split(":")[1]
    s = next((s for s in answer.spends if s.source == name), None)
    if s is None:
        why = dict(answer.not_read).get(name)
        return Content.from_markup("[b]$n[/]\n[$warning]$w[/]", n=name, w=why) if why else None
    burn = burns.get(s.source, 0.0)
    lines = [Content.from_markup("[b]$n[/] [$muted]($a, $sc)[/]", n=s.source, a=s.api, sc=s.scope),
             Content.from_markup("[$muted]charged[/]  $c from $f to $t", c=fmt.dollars(s.total),
                                 f=s.start.isoformat(), t=s.end.isoformat() + " (exclusive)"),
             Content.from_markup("[$muted]forecast[/] $f = charged + $b/h burn now for the rest of the month",
                                 f=fmt.dollars(month_forecast(s.total, burn, now) or 0.0), b=fmt.dollars(burn))]
    lines += [Content.from_markup("[$warning]$sc missing: $w[/]", sc=sc, w=w) for sc, w in s.missing]
    days = s.by_day()
    top = max((a for _, a in days), default=0.0)
    lines.append(Content.from_markup("[b]Per day[/]"))
    lines += [Content.from_markup("  $d $a $bar", d=d.isoformat()[5:], a=fmt.dollars(a).rjust(9),
                                  bar="█" * (round(20 * a / top) if top else 0)) for d, a in days]
    return Content("\n").join(lines)


def budget_rows(uses: list[BudgetUse], charged: Mapping[str, float]) -> list[Row]:
    """The most over first; a cloud source's row also says what its billing charged so far."""
    return [Row(f"budget:{u.key}", (
        u.key, u.kind, "", f"over by {fmt.dollars(u.projected - u.budget)}" if u.over else "within",
        fmt.dollars(u.budget), fmt.dollars(u.projected), f"{u.ratio:.0%}",
        "its pods' share of the split x 730 h" if u.kind == "namespace" else "burn now x 730 h"
        + (f"; billing says {fmt.dollars(charged[u.key])} so far" if u.key in charged else "")),
        cell_styles=(None, None, None, "vt--bad" if u.over else "vt--good")) for u in uses]


def budget_summary(uses: list[BudgetUse]) -> str:
    over = [u for u in uses if u.over]
    by = f" (by {fmt.dollars(sum(u.projected - u.budget for u in over))})" if over else ""
    noun = "budget" if len(uses) == 1 else "budgets"
    return f"{len(uses)} {noun} · {len(over)} projected over{by} · projected from the burn now · by budgets"
