"""What Azure subscriptions were charged, from Cost Management's query API (azure-mgmt-costmanagement):
actual cost per day and per service name, each subscription asked on its own, further pages
(`nextLink`, a skip token) asked with the same definition. The cost column is `Cost` or
`PreTaxCost` depending on the agreement, so columns are found by name, never by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from cockpit.spend import SpendLine

COST_COLUMNS = ("Cost", "PreTaxCost", "CostUSD")


def definition(start: date, end: date) -> dict[str, Any]:
    """ActualCost, daily, grouped by service; Azure's `to` is inclusive, so the day before `end`."""
    last = date.fromordinal(end.toordinal() - 1)
    return {"type": "ActualCost", "timeframe": "Custom",
            "timePeriod": {"from": f"{start.isoformat()}T00:00:00+00:00", "to": f"{last.isoformat()}T23:59:59+00:00"},
            "dataset": {"granularity": "Daily",
                        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                        "grouping": [{"type": "Dimension", "name": "ServiceName"}]}}


def _day(value: Any) -> date:
    """UsageDate comes as a number (20261105) or, with some agreements, as an ISO timestamp."""
    text = str(value)
    if text.isdigit() or (text.replace(".", "", 1).isdigit() and len(text.split(".")[0]) == 8):
        text = text.split(".")[0]
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def lines_of(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[list[SpendLine], str | None]:
    """Lines and the currency, by column name; a table without a cost or date column is not one
    cockpit can read (ValueError, said as the answer's shape)."""
    index = {name: i for i, name in enumerate(columns)}
    cost = next((index[c] for c in COST_COLUMNS if c in index), None)
    when = index.get("UsageDate", index.get("BillingMonth"))
    if cost is None or when is None:
        raise ValueError(f"no cost or date column in {list(columns)}")
    service, currency_at = index.get("ServiceName"), index.get("Currency")
    out: list[SpendLine] = []
    currency = None
    for row in rows:
        if currency_at is not None:
            currency = str(row[currency_at])
        out.append(SpendLine(_day(row[when]), str(row[service]) if service is not None else "(total)",
                             float(row[cost])))
    return out, currency
