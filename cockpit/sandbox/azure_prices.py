"""Azure's public retail prices API (GET /api/retail/prices, no credentials) for the ARM fake:
items in the public shape for each size the catalogue prices (a Linux pay-as-you-go meter, a
Spot meter, and the Windows and Low Priority meters a reader must skip), the OData `$filter`
subset cockpit sends (eq, and, or, parentheses), and NextPageLink paging."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from cockpit.prices import Catalogue
from cockpit.sandbox.cloudfake import HttpError, JsonFake, Obj, Reply

PATH = "/api/retail/prices"
PAGE = 3
"""Items per page: small, so that NextPageLink is followed on every question."""


def retail_items(cat: Catalogue, factor: float = 1.0) -> list[Obj]:
    """The catalogue's Azure rows as retail price items, each price times `factor`."""
    out: list[Obj] = []
    for (cloud, size, region), o in sorted(cat.offers.items()):
        if cloud != "azure" or o.on_demand is None:
            continue
        name = size.removeprefix("Standard_").replace("_", " ")
        series = f"Virtual Machines {name.split(' ')[0]} Series"
        base = {"currencyCode": "USD", "armRegionName": region, "armSkuName": size, "serviceName": "Virtual Machines",
                "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption", "tierMinimumUnits": 0.0,
                "isPrimaryMeterRegion": True, "location": region}
        meters = [(series, name, o.on_demand), (series + " Windows", name, o.on_demand * 1.4),
                  (series, name + " Low Priority", o.on_demand * 0.2)]
        if o.spot is not None:
            meters.append((series, name + " Spot", o.spot))
        for product, sku, price in meters:
            value = round(price * factor, 6)
            out.append(base | {"productName": product, "skuName": sku, "meterName": sku, "retailPrice": value,
                               "unitPrice": value, "meterId": f"{size}-{region}-{sku}", "skuId": f"DZH318Z0{size}"})
    return out


def _matches(item: Obj, clauses: str) -> bool:
    """The filter as cockpit writes it: `a eq 'x' and ... and (b eq 'y' or b eq 'z')`."""
    for part in re.split(r"\s+and\s+(?![^()]*\))", clauses.strip()):
        options = [o.strip() for o in part.strip().strip("()").split(" or ")]
        ok = False
        for o in options:
            m = re.fullmatch(r"(\w+) eq '([^']*)'", o)
            if m is None:
                raise HttpError(400, {"Error": {"Code": "InvalidFilter", "Message": f"cannot parse {o!r}"}})
            field, value = m.groups()
            ok = ok or (field == "priceType" and item.get("type") == value) or str(item.get(field)) == value
        if not ok:
            return False
    return True


def serve_retail(fake: JsonFake, items: list[Obj]) -> None:
    """Answer the retail prices API from `items` (replace them through the list in place)."""
    fake.public = (*fake.public, PATH)

    def handler(*, query: Any, body: Any, headers: Any) -> Reply:
        found = [it for it in items if _matches(it, query.get("$filter") or "")]
        skip = int(query.get("$skip") or 0)
        page = found[skip:skip + PAGE]
        link = None
        if skip + PAGE < len(found):
            link = (f"{fake.url}{PATH}?api-version={query.get('api-version', '')}&$filter="
                    f"{quote(query.get('$filter') or '')}&$skip={skip + PAGE}")
        return 200, {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                     "Items": page, "NextPageLink": link, "Count": len(page)}

    fake.route("GET", PATH, handler)
