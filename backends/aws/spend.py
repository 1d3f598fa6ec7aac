"""What the AWS account was charged, from Cost Explorer (boto3 `ce` GetCostAndUsage): unblended
cost per day and per service, pages followed through NextPageToken. Cost Explorer answers for the
whole account (every region, every service), and each request costs $0.01, so the callers cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from cockpit.spend import SpendLine

METRIC = "UnblendedCost"
"""What the bill says was charged, before savings plans and reservations are spread (AWS's default view)."""


def request(start: date, end: date) -> dict[str, Any]:
    return {"TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()}, "Granularity": "DAILY",
            "Metrics": [METRIC], "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}]}


def lines_of(pages: Iterable[Mapping[str, Any]], start: date, end: date) -> tuple[list[SpendLine], str]:
    """Lines of the days in [start, end) and the currency; a day without groups counts its total
    under `(total)`."""
    out: list[SpendLine] = []
    currency = "USD"
    for page in pages:
        for result in page.get("ResultsByTime") or []:
            day = date.fromisoformat(str(result["TimePeriod"]["Start"])[:10])
            if not start <= day < end:
                continue
            estimated = bool(result.get("Estimated"))
            groups = result.get("Groups") or []
            if not groups:
                metric = (result.get("Total") or {}).get(METRIC) or {}
                if metric.get("Amount") not in (None, ""):
                    currency = str(metric.get("Unit") or currency)
                    out.append(SpendLine(day, "(total)", float(metric["Amount"]), estimated))
            for group in groups:
                metric = (group.get("Metrics") or {}).get(METRIC) or {}
                if metric.get("Amount") in (None, ""):
                    continue
                currency = str(metric.get("Unit") or currency)
                out.append(SpendLine(day, str((group.get("Keys") or ["?"])[0]), float(metric["Amount"]), estimated))
    return out, currency
