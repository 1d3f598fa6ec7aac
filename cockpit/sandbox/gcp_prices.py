"""The Cloud Billing Catalog API's SKU list for Compute Engine (GET /v1/services/6F81-5844-456A/skus),
served beside the Compute Engine fake: what google-cloud-billing's CloudCatalogClient reads, in
the public shape (description, category, serviceRegions, pricingInfo with units and nanos),
paged through pageToken.

The SKUs price each family's vCPU and GiB and each GPU model apart, as the real catalogue does,
with the SKUs a reader must skip beside them (custom and sole-tenant cores, committed use,
storage). Their rates are us-central1's public list prices of late 2026 (the bundled catalogue's
types compose back to its figures there); other regions are scaled by a regional factor, so they
are close to the real ones, not equal to them.
"""

from __future__ import annotations

import zlib
from typing import Any

from cockpit.sandbox.cloudfake import JsonFake, Obj, Reply

PATH = "/v1/services/6F81-5844-456A/skus"
PAGE = 25
"""SKUs per page at most, whatever pageSize asks: small, so that paging is always exercised."""

# what -> (on-demand, spot) $/hour in us-central1: a family's vCPU and GiB, or one GPU
RATES: dict[str, tuple[float, float]] = {
    "N1 Predefined Instance Core": (0.031611, 0.00698), "N1 Predefined Instance Ram": (0.004237, 0.000936),
    "N2 Instance Core": (0.031611, 0.00904), "N2 Instance Ram": (0.004237, 0.00121),
    "E2 Instance Core": (0.021811, 0.006543), "E2 Instance Ram": (0.002923, 0.000877),
    "A2 Instance Core": (0.031611, 0.00898), "A2 Instance Ram": (0.004237, 0.0012),
    "A3 Instance Core": (0.02939, 0.00882), "A3 Instance Ram": (0.00394, 0.00118),
    "G2 Instance Core": (0.025048, 0.0100225), "G2 Instance Ram": (0.0029125, 0.001165),
    "Nvidia Tesla A100 GPU": (2.933908, 1.2332), "Nvidia A100 80GB GPU": (1.8462, 1.69927),
    "Nvidia H100 80GB GPU": (3.69717, 2.01949), "Nvidia L4 GPU": (0.56004, 0.22311),
    "Nvidia Tesla T4 GPU": (0.35, 0.14), "Nvidia Tesla V100 GPU": (2.48, 0.992), "Nvidia Tesla P100 GPU": (1.46, 0.584),
}
REGIONS = {"us-central1": ("Americas", 1.0), "us-east1": ("Americas", 1.0), "us-east4": ("Virginia", 1.126),
           "europe-west4": ("Netherlands", 1.1)}
_SKIPPED: list[tuple[str, str, str, str]] = [
    # (description, resource family, group, usage type) of SKUs that are no plain instance's price
    ("N2 Custom Instance Core running in {place}", "Compute", "CPU", "OnDemand"),
    ("N2 Sole Tenancy Instance Core running in {place}", "Compute", "CPU", "OnDemand"),
    ("Commitment v1: N2 Cpu in {place} for 1 Year", "Compute", "CPU", "Commit1Yr"),
    ("Storage PD Capacity in {place}", "Storage", "PDStandard", "OnDemand"),
]


def _money(price: float) -> Obj:
    units = int(price)
    return {"currencyCode": "USD", "units": str(units), "nanos": round((price - units) * 1e9)}


def sku(description: str, region: str, price: float, *, usage: str = "OnDemand", family: str = "Compute",
        group: str = "CPU", unit: str = "h") -> Obj:
    """One SKU in the public shape."""
    sku_id = f"{zlib.crc32(f'{description}|{region}|{usage}'.encode()):012X}"
    sku_id = f"{sku_id[:4]}-{sku_id[4:8]}-{sku_id[8:]}"
    return {"name": f"services/6F81-5844-456A/skus/{sku_id}", "skuId": sku_id, "description": description,
            "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": family, "resourceGroup": group,
                         "usageType": usage},
            "serviceRegions": [region], "serviceProviderName": "Google",
            "geoTaxonomy": {"type": "REGIONAL", "regions": [region]},
            "pricingInfo": [{"summary": "", "effectiveTime": "2026-11-01T08:00:00Z", "currencyConversionRate": 1,
                             "pricingExpression": {
                                 "usageUnit": "GiBy.h" if unit == "GiBy.h" else "h", "displayQuantity": 1,
                                 "usageUnitDescription": "gibibyte hour" if unit == "GiBy.h" else "hour",
                                 "baseUnit": "s", "baseUnitDescription": "second", "baseUnitConversionFactor": 3600,
                                 "tieredRates": [{"startUsageAmount": 0, "unitPrice": _money(price)}]}}]}


def skus(factor: float = 1.0, rates: dict[str, tuple[float, float]] | None = None,
         regions: dict[str, tuple[str, float]] | None = None) -> list[Obj]:
    """Every rate in every region, on demand and spot, each price times `factor`, with the SKUs to skip."""
    out: list[Obj] = []
    for region, (place, scale) in sorted((regions or REGIONS).items()):
        for what, (on_demand, spot) in (rates or RATES).items():
            group = "GPU" if what.startswith("Nvidia") else "RAM" if what.endswith("Ram") else "CPU"
            unit = "GiBy.h" if group == "RAM" else "h"
            text = f"{what} running in {place}"
            out.append(sku(text, region, round(on_demand * scale * factor, 9), group=group, unit=unit))
            out.append(sku(f"Spot Preemptible {text}", region, round(spot * scale * factor, 9), usage="Preemptible",
                           group=group, unit=unit))
        for text, family, group, usage in _SKIPPED:
            out.append(sku(text.format(place=place), region, 0.05, usage=usage, family=family, group=group))
    return out


def serve_skus(fake: JsonFake, items: list[Obj]) -> None:
    """Answer the SKU list from `items` (a test replaces them in place)."""

    def handler(*, query: Any, body: Any, headers: Any) -> Reply:
        start = int(query.get("pageToken") or 0)
        size = min(int(query.get("pageSize") or 5000), PAGE)
        page = items[start:start + size]
        reply: Obj = {"skus": page}
        if start + size < len(items):
            reply["nextPageToken"] = str(start + size)
        return 200, reply

    fake.route("GET", PATH, handler)
