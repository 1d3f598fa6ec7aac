"""EC2 prices from AWS itself: on-demand from the Price List API (`pricing` GetProducts: Linux,
shared tenancy, no pre-installed software, capacity status Used: what a plain instance costs), spot
from each region's DescribeSpotPriceHistory (the cheapest zone's latest price, what a spot request
placed anywhere in the region would pay at least).

`price_endpoint_url` in the source sends both to another endpoint (a local fake); by default they
go to AWS: the Price List API in us-east-1, the spot history in each region.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from backends._fanout import fan_out
from cockpit.prices import Offer

LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def _memory_gib(text: str) -> float | None:
    number = text.replace(",", "").split(" ")[0]
    try:
        return float(number)
    except ValueError:
        return None


def parse_product(raw: str) -> tuple[float | None, Mapping[str, str]]:
    """One PriceList entry: its on-demand $/hour (the first hourly dimension in USD) and its attributes."""
    product = json.loads(raw)
    attributes = product.get("product", {}).get("attributes", {})
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if dim.get("unit") in ("Hrs", "Hours") and usd not in (None, ""):
                return float(usd), attributes
    return None, attributes


def on_demand(pricing: Any, instance_type: str, region: str) -> tuple[float | None, Mapping[str, str]]:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
               for k, v in {"instanceType": instance_type, "regionCode": region, **LINUX_ON_DEMAND}.items()]
    for page in pricing.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", Filters=filters,
                                                               FormatVersion="aws_v1"):
        for raw in page.get("PriceList") or []:
            price, attributes = parse_product(raw)
            if price is not None:
                return price, attributes
    return None, {}


def spot(ec2: Any, types: list[str], now: datetime) -> dict[str, float]:
    """type -> the cheapest zone's latest Linux spot price in the client's region."""
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    pages = ec2.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=types, ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"], StartTime=now)
    for page in pages:
        for item in page.get("SpotPriceHistory") or []:
            key = (str(item["InstanceType"]), str(item.get("AvailabilityZone", "")))
            when = item.get("Timestamp") or now
            if key not in latest or when > latest[key][0]:
                latest[key] = (when, float(item["SpotPrice"]))
    out: dict[str, float] = {}
    for (kind, _), (_, price) in latest.items():
        out[kind] = min(price, out.get(kind, price))
    return out


def fetch(pricing: Any, ec2_for: Any, wanted: Iterable[tuple[str, str]], known: Mapping[tuple[str, str], Offer],
          now: datetime | None = None) -> list[Offer]:
    """Offers for the (type, region) pairs asked for; a pair the API has no on-demand price for is
    left out (the bundled row, if any, stays). What the API does not say (the GPU's model) is kept
    from the bundled row."""
    now = now or datetime.now(UTC)
    pairs = sorted(set(wanted))
    answers = dict(zip(pairs, fan_out(lambda p: on_demand(pricing, *p), pairs, workers=8, name="aws-prices"),
                       strict=True))
    by_region: dict[str, list[str]] = {}
    for kind, region in pairs:
        by_region.setdefault(region, []).append(kind)
    spots = {region: spot(ec2_for(region), kinds, now) for region, kinds in by_region.items()}
    out = []
    for (kind, region), (price, attrs) in answers.items():
        if price is None:
            continue
        old = known.get((kind, region))
        gpus = attrs.get("gpu", "")
        out.append(Offer("aws", kind, region, price, spots[region].get(kind),
                         int(attrs["vcpu"]) if str(attrs.get("vcpu", "")).isdigit() else (old.vcpus if old else None),
                         _memory_gib(str(attrs.get("memory", ""))) or (old.memory_gib if old else None),
                         old.accelerator if old else None,
                         int(gpus) if gpus.isdigit() else (old.accelerator_count if old else 0)))
    return out
