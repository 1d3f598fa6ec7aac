"""Azure VM prices from the public retail prices API (no credentials): per region, one filtered
query for the sizes asked for, pages followed through NextPageLink. Linux consumption meters only:
a meter whose product is Windows, or a Low Priority one, is skipped; a `... Spot` meter is the spot
price, the other the pay-as-you-go one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cockpit.prices import Offer

DEFAULT_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
BATCH = 15
"""Sizes per query: the filter is a URL parameter, and gateways cut long URLs."""


def query_filter(region: str, sizes: list[str]) -> str:
    names = " or ".join(f"armSkuName eq '{s}'" for s in sizes)
    return (f"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '{region}' "
            f"and ({names})")


def prices_of(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(size, region) -> (pay-as-you-go, spot) $/hour from retail price items."""
    out: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for it in items:
        product, sku = str(it.get("productName", "")), str(it.get("skuName", ""))
        if "Windows" in product or "Low Priority" in sku or it.get("unitOfMeasure") != "1 Hour":
            continue
        if it.get("type", "Consumption") != "Consumption" or it.get("currencyCode", "USD") != "USD":
            continue
        key = (str(it["armSkuName"]), str(it["armRegionName"]))
        on_demand, spot = out.get(key, (None, None))
        price = float(it["retailPrice"])
        if sku.endswith(" Spot"):
            spot = price if spot is None else min(spot, price)
        else:
            on_demand = price if on_demand is None else min(on_demand, price)
        out[key] = (on_demand, spot)
    return out


def fetch(get: Any, url: str, wanted: Iterable[tuple[str, str]], known: Mapping[tuple[str, str], Offer]
          ) -> list[Offer]:
    """`get(url, params)` returns the parsed JSON page. Sizes the API has no pay-as-you-go price for
    are left out (their bundled row stays); what the API does not say (vCPUs, GPUs) comes from it."""
    by_region: dict[str, list[str]] = {}
    for size, region in sorted(set(wanted)):
        by_region.setdefault(region, []).append(size)
    items: list[Mapping[str, Any]] = []
    for region, sizes in by_region.items():
        for i in range(0, len(sizes), BATCH):
            page: Any = get(url, {"api-version": API_VERSION, "$filter": query_filter(region, sizes[i:i + BATCH])})
            while True:
                items.extend(page.get("Items") or [])
                link = page.get("NextPageLink")
                if not link:
                    break
                page = get(link, None)
    out = []
    for (size, region), (on_demand, spot) in sorted(prices_of(items).items()):
        if on_demand is None:
            continue
        old = known.get((size, region))
        out.append(Offer("azure", size, region, on_demand, spot, old.vcpus if old else None,
                         old.memory_gib if old else None, old.accelerator if old else None,
                         old.accelerator_count if old else 0))
    return out
