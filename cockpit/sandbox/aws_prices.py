"""AWS's price APIs for the tests and the demo: the Price List API's GetProducts (JSON 1.1, as boto3's
`pricing` client speaks it) and EC2's DescribeSpotPriceHistory (query protocol, XML), answered from
a table of prices at one local endpoint (`price_endpoint_url` of an aws source).

moto has no Price List API, and its spot price history is a constant placeholder; this answers in
the public shapes: a PriceList of JSON strings with product attributes and OnDemand terms, paged
by NextToken, and spot history items per availability zone.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cockpit.prices import Catalogue
from cockpit.sandbox.cloudfake import HttpError, JsonFake, Obj, Reply

PAGE = 1
"""Products per page: small, so that paging is exercised on every question."""


class AwsPricesFake(JsonFake):
    def __init__(self, prices: Mapping[tuple[str, str], tuple[float, float | None]],
                 attributes: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """prices: (type, region) -> (on-demand, spot or None); attributes: type -> vcpu, memory, gpu."""
        super().__init__()
        self.prices = dict(prices)
        self.attributes = dict(attributes or {})
        self.route("POST", "/", self._post)

    @classmethod
    def from_catalogue(cls, cat: Catalogue, factor: float = 1.0) -> AwsPricesFake:
        """The catalogue's EC2 rows, each price times `factor` (a market that moved since)."""
        prices: dict[tuple[str, str], tuple[float, float | None]] = {}
        attrs: dict[str, dict[str, str]] = {}
        for (cloud, kind, region), o in cat.offers.items():
            if cloud != "aws" or o.on_demand is None:
                continue
            prices[kind, region] = (round(o.on_demand * factor, 6), None if o.spot is None else round(o.spot * factor,
                                                                                                        6))
            attrs[kind] = {"vcpu": str(o.vcpus or ""), "memory": f"{o.memory_gib:g} GiB" if o.memory_gib else "NA",
                           "gpu": str(o.accelerator_count or "")}
        return cls(prices, attrs)

    def error_body(self, status: int, message: str) -> Obj:
        return {"__type": "InternalErrorException", "Message": message}

    def _post(self, *, query: Any, body: Any, headers: Any) -> Reply:
        target = headers.get("X-Amz-Target") or ""
        if target == "AWSPriceListService.GetProducts":
            return self._products(body or {})
        if isinstance(body, dict) and body.get("Action") == "DescribeSpotPriceHistory":
            return self._spot(body)
        raise HttpError(400, {"__type": "UnknownOperationException", "Message": f"no operation {target!r}"})

    def _products(self, body: Obj) -> Reply:
        if body.get("ServiceCode") != "AmazonEC2":
            raise HttpError(400, {"__type": "InvalidParameterException", "Message": "ServiceCode: only AmazonEC2"})
        want = {f["Field"]: f["Value"] for f in body.get("Filters") or [] if f.get("Type") == "TERM_MATCH"}
        matches = []
        for (kind, region), (price, _) in sorted(self.prices.items()):
            attrs = {"instanceType": kind, "regionCode": region, "operatingSystem": "Linux", "tenancy": "Shared",
                     "preInstalledSw": "NA", "capacitystatus": "Used", **self.attributes.get(kind, {})}
            if all(attrs.get(k) == v for k, v in want.items()):
                matches.append(_product(attrs, price))
        start = int(body.get("NextToken") or 0)
        page = matches[start:start + PAGE]
        reply: Obj = {"FormatVersion": "aws_v1", "PriceList": page}
        if start + PAGE < len(matches):
            reply["NextToken"] = str(start + PAGE)
        return 200, reply, {"Content-Type": "application/x-amz-json-1.1"}

    def _spot(self, form: Mapping[str, str]) -> Reply:
        types = [v for k, v in form.items() if k.startswith("InstanceType.")]
        region = str(form.get("_region", ""))
        items = []
        for (kind, where), (_, spot) in sorted(self.prices.items()):
            if spot is None or (types and kind not in types) or (region and where != region):
                continue
            for i, zone in enumerate("ab"):  # the second zone dearer: the cheapest zone's is the price
                items.append(f"<item><instanceType>{kind}</instanceType><productDescription>Linux/UNIX"
                             f"</productDescription><spotPrice>{spot * (1 + 0.1 * i):.6f}</spotPrice>"
                             f"<timestamp>{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.000Z')}</timestamp>"
                             f"<availabilityZone>{where}{zone}</availabilityZone></item>")
        return 200, ('<?xml version="1.0" encoding="UTF-8"?><DescribeSpotPriceHistoryResponse '
                     'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>00000000-0000-0000-0000-000000000000'
                     f"</requestId><spotPriceHistorySet>{''.join(items)}</spotPriceHistorySet><nextToken/>"
                     "</DescribeSpotPriceHistoryResponse>")

    def handle(self, method: str, target: str, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        # EC2's region is in the request's signature scope, not its body: the spot answer is per region
        auth = headers.get("Authorization") or ""
        if isinstance(body, dict) and "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            if len(scope) > 2:
                body = {**body, "_region": scope[2]}
        return super().handle(method, target, body, headers)


def _product(attrs: Mapping[str, str], price: float) -> str:
    key = attrs["instanceType"] + "/" + attrs["regionCode"]
    sku = f"SKU{zlib.crc32(key.encode()):010d}"
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": dict(attrs), "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "pricePerUnit": {"USD": f"{price:.10f}"}, "description": "On Demand Linux",
                "beginRange": "0", "endRange": "Inf", "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7"}}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"})
