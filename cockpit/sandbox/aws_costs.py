"""Cost Explorer's answers for the demo, queued in moto (which tracks no costs itself) through its
`/moto-api/static/ce/cost-and-usage-results`: per day and service, instance hours following the
demo fleet's burn at the bundled prices, with the rest of a GPU account's bill beside them."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cockpit.sandbox.aws import FLEET

OTHER_SERVICES = {"EC2 - Other": 41.3, "Amazon Simple Storage Service": 27.85, "AmazonCloudWatch": 5.6,
                  "AWS Data Transfer": 11.2, "Amazon Elastic Container Service for Kubernetes": 4.8}
"""$/day of what is not instance hours (EBS, S3, metrics, traffic, EKS), as a GPU account's bill has."""


def fleet_hourly() -> float:
    """What the demo's running instances cost an hour at the bundled catalogue's prices."""
    from cockpit.prices import bundled

    offers = bundled().offers
    total = 0.0
    for region, fleet in FLEET.items():
        for _, kind, spot, running, _ in fleet:
            offer = offers.get(("aws", kind, region))
            if running and offer is not None:
                total += (offer.spot if spot else offer.on_demand) or 0.0
    return total


HISTORY_DAYS = 62
QUEUED = 16
"""moto hands each distinct question the next queued answer: one copy per window a demo user may ask."""


def cost_results(today: date, hourly: float, hours_today: float) -> dict[str, Any]:
    """Cost Explorer's daily answer per service over the last HISTORY_DAYS, for moto's queue (the
    adapter keeps the days it asked for): the instance hours follow the fleet's burn with a little
    day-to-day movement, today's is partial, today's and yesterday's are estimated (as Cost
    Explorer marks them)."""
    results = []
    day = today - timedelta(days=HISTORY_DAYS - 1)
    while day <= today:
        share = hours_today / 24 if day == today else 1.0
        wobble = 1 + ((day.day * 7) % 11 - 5) / 100
        amounts = {"Amazon Elastic Compute Cloud - Compute": hourly * 24 * wobble,
                   **{k: v * (1 + ((day.day + i) % 5) / 50) for i, (k, v) in enumerate(OTHER_SERVICES.items())}}
        results.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                        "Total": {}, "Estimated": day >= today - timedelta(days=1),
                        "Groups": [{"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": f"{v * share:.10f}",
                                                                               "Unit": "USD"}}}
                                   for k, v in amounts.items()]})
        day += timedelta(days=1)
    return {"ResultsByTime": results, "DimensionValueAttributes": [], "GroupDefinitions": [
        {"Type": "DIMENSION", "Key": "SERVICE"}]}


def preload_costs(endpoint: str, now: datetime | None = None) -> None:
    """Queue the last two months in moto's Cost Explorer, once per window a user may ask: moto
    gives each new question the next copy, and answers a repeated question as before."""
    now = now or datetime.now(UTC)
    hours = now.hour + now.minute / 60
    body = json.dumps({"results": [cost_results(now.date(), fleet_hourly(), hours)] * QUEUED}).encode()
    request = urllib.request.Request(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()
