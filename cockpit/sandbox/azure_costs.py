"""Cost Management's query API on the ARM fake (POST /subscriptions/{id}/providers/
Microsoft.CostManagement/query): what azure-mgmt-costmanagement's `query.usage` sends and reads,
in the public shape (columns by name, rows of [cost, UsageDate as yyyymmdd, service, currency]),
with `nextLink` pages that take the same definition, as the real API pages long answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from cockpit.sandbox.cloudfake import HttpError, JsonFake, Obj, Reply

PATH = r"/subscriptions/([^/]+)/providers/Microsoft\.CostManagement/query"
PAGE = 20
"""Rows per page: small, so that nextLink is followed."""
COLUMNS = [{"name": "PreTaxCost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
           {"name": "ServiceName", "type": "String"}, {"name": "Currency", "type": "String"}]

Charges = dict[str, list[tuple[date, str, float]]]
"""subscription -> (day, service, $) charged."""


def _day(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def serve_costs(fake: JsonFake, charges: Charges) -> None:
    """Answer the query API from `charges` (a test fills or replaces them in place)."""

    def handler(sub: str, *, query: Any, body: Any, headers: Any) -> Reply:
        if sub not in charges:
            raise HttpError(404, {"error": {"code": "SubscriptionNotFound",
                                            "message": f"Subscription {sub} was not found."}})
        period = (body or {}).get("timePeriod") or {}
        dataset = (body or {}).get("dataset") or {}
        if body.get("type") != "ActualCost" or dataset.get("granularity") != "Daily" or not period:
            raise HttpError(400, {"error": {"code": "BadRequest", "message": "this fake answers ActualCost, Daily, "
                                                                             "Custom time periods only"}})
        start, last = _day(period["from"]), _day(period["to"])
        rows = [[round(cost, 6), int(day.strftime("%Y%m%d")), service, "USD"]
                for day, service, cost in sorted(charges[sub]) if start <= day <= last]
        skip = int(query.get("$skiptoken") or 0)
        props: Obj = {"columns": COLUMNS, "rows": rows[skip:skip + PAGE], "nextLink": None}
        if skip + PAGE < len(rows):
            props["nextLink"] = (f"{fake.url}/subscriptions/{sub}/providers/Microsoft.CostManagement/query"
                                 f"?api-version={query.get('api-version', '')}&$skiptoken={skip + PAGE}")
        return 200, {"id": f"subscriptions/{sub}/providers/Microsoft.CostManagement/query/q", "name": "q",
                     "type": "Microsoft.CostManagement/query", "properties": props}

    fake.route("POST", PATH, handler)


def demo_charges(today: date, hourly: float) -> list[tuple[date, str, float]]:
    """The month to date for the demo subscription: its VMs' hours at `hourly`, with storage,
    traffic and monitoring beside them, today's partial."""
    out = []
    day = today.replace(day=1)
    while day <= today:
        share = 0.5 if day == today else 1.0
        wobble = 1 + ((day.day * 5) % 9 - 4) / 100
        for service, amount in (("Virtual Machines", hourly * 24 * wobble), ("Storage", 18.4),
                                ("Bandwidth", 6.3), ("Azure Monitor", 2.9)):
            out.append((day, service, round(amount * share, 4)))
        day += timedelta(days=1)
    return out
