"""Actual spend, as the provider's billing says it (AWS Cost Explorer, Azure Cost Management), beside
the burn rate cockpit computes from the catalogue. Why both: the burn rate is what the fleet costs
now at list prices; the bill is what was charged (discounts, storage, traffic, savings plans
included) and lags by hours. A month's forecast joins them: charged so far plus the burn rate for
the hours left.

Pure records and arithmetic; the adapters fill them.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class SpendLine:
    day: date
    group: str
    """What the bill groups by: the service (`Amazon Elastic Compute Cloud - Compute`, `Virtual Machines`)."""
    amount: float
    estimated: bool = False
    """The provider says the figure may still change (today's, yesterday's)."""


@dataclass(frozen=True, slots=True)
class Spend:
    """One source's charges over [start, end) as its billing API answered."""

    source: str
    provider: str
    api: str
    """`AWS Cost Explorer`, `Azure Cost Management`."""
    scope: str
    """What the bill covers: the whole AWS account, the subscriptions."""
    start: date
    end: date
    """Exclusive, as both APIs take it."""
    currency: str
    lines: tuple[SpendLine, ...]
    missing: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(scope, why) of subscriptions that did not answer; their charges are not in the total."""

    @property
    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 6)

    @property
    def estimated(self) -> bool:
        return any(line.estimated for line in self.lines)

    def by_group(self) -> list[tuple[str, float]]:
        """Services by what they cost, dearest first."""
        return _summed((line.group, line.amount) for line in self.lines)

    def by_day(self) -> list[tuple[date, float]]:
        days: dict[date, float] = {}
        for line in self.lines:
            days[line.day] = days.get(line.day, 0.0) + line.amount
        return [(d, round(days[d], 6)) for d in sorted(days)]


def _summed(pairs: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    out: dict[str, float] = {}
    for key, amount in pairs:
        out[key] = out.get(key, 0.0) + amount
    return sorted(((k, round(v, 6)) for k, v in out.items()), key=lambda kv: (-kv[1], kv[0]))


def month_to_date(today: date) -> tuple[date, date]:
    """[the 1st, tomorrow): today's charges so far are part of the month."""
    return today.replace(day=1), today + timedelta(days=1)


def last_days(today: date, days: int) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today + timedelta(days=1)


def month_forecast(charged: float, hourly_burn: float | None, now: datetime) -> float | None:
    """What the month will have cost: charged so far, plus the burn rate for the hours left in it.
    None without a burn rate (nothing priced)."""
    if hourly_burn is None:
        return None
    last = calendar.monthrange(now.year, now.month)[1]
    end = now.replace(day=last, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    left = max(0.0, (end - now).total_seconds() / 3600)
    return round(charged + hourly_burn * left, 2)
