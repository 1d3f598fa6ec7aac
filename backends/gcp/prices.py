"""Compute Engine prices from the Cloud Billing Catalog API (`services/6F81-5844-456A/skus`).

Why a type's price has to be composed: the catalogue has no SKU per machine type. It prices a
family's vCPU (`N2 Instance Core running in Americas`), its memory per GiB (`... Instance Ram ...`)
and each GPU model (`Nvidia L4 GPU running in ...`) apart, per region, on demand and as spot
(`Spot Preemptible ...`, usage type Preemptible). A type costs vCPUs x core + GiB x RAM, plus its
built-in GPUs (A2, A3, G2) x the GPU; an N1 host's attached GPUs are priced on their own
(`gpu:MODEL:COUNT` rows). This is what SkyPilot's catalogue fetcher does too. Custom, sole-tenant
and committed-use SKUs are not list prices of a plain instance and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.prices import Offer

SERVICE = "services/6F81-5844-456A"
"""Compute Engine's service id in the catalogue."""
DEFAULT_ENDPOINT = "cloudbilling.googleapis.com"
_PART = re.compile(r"^(?:Spot Preemptible )?(?P<family>[A-Z][A-Z0-9]*)(?: Predefined)? Instance (?P<part>Core|Ram)"
                   r" running in ")
_GPU = re.compile(r"^(?:Spot Preemptible )?Nvidia (?:Tesla )?(?P<name>.+?) GPU running in ")
USAGE = {"OnDemand": "on_demand", "Preemptible": "spot"}

GPU_SKU_NAME: Mapping[str, str] = {
    # the catalogue's and Compute Engine's accelerator names -> the name in the SKU's description
    "A100-80GB": "A100 80GB", "H100": "H100 80GB", "H100-MEGA": "H100 80GB Mega", "H200": "H200 141GB",
    "nvidia-tesla-a100": "A100", "nvidia-a100-80gb": "A100 80GB", "nvidia-h100-80gb": "H100 80GB",
    "nvidia-h100-mega-80gb": "H100 80GB Mega", "nvidia-h200-141gb": "H200 141GB", "nvidia-b200": "B200",
    "nvidia-l4": "L4", "nvidia-tesla-t4": "T4", "nvidia-tesla-v100": "V100", "nvidia-tesla-p100": "P100",
    "nvidia-tesla-p4": "P4",
}


@dataclass(frozen=True, slots=True)
class Shape:
    """What a type holds, which its price is composed from."""

    vcpus: int
    memory_gib: float
    gpu: str | None = None
    """The GPU as the catalogue names it (A100-80GB), or Compute Engine's accelerator id."""
    gpus: int = 0


Rates = dict[tuple[str, str, str], float]
"""(what, region, on_demand|spot) -> $/hour, `what` being `N2:core`, `N2:ram` (per GiB) or `gpu:L4`."""


def unit_price(sku: Mapping[str, Any]) -> float | None:
    """The newest pricing's last tier in USD (the first tier of some SKUs is a free allowance)."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    tiers = (infos[-1].get("pricingExpression") or {}).get("tieredRates") or []
    if not tiers:
        return None
    money = tiers[-1].get("unitPrice") or {}
    if money.get("currencyCode", "USD") != "USD":
        return None
    return int(money.get("units") or 0) + int(money.get("nanos") or 0) / 1e9


def rates_of(skus: Iterable[Mapping[str, Any]]) -> Rates:
    out: Rates = {}
    for sku in skus:
        category = sku.get("category") or {}
        usage = USAGE.get(str(category.get("usageType")))
        if usage is None or category.get("resourceFamily") != "Compute":
            continue
        text = str(sku.get("description", ""))
        part, gpu = _PART.match(text), _GPU.match(text)
        if part:
            what = f"{part['family']}:{part['part'].lower()}"
        elif gpu:
            what = f"gpu:{gpu['name']}"
        else:
            continue
        price = unit_price(sku)
        if price is None:
            continue
        for region in sku.get("serviceRegions") or []:
            out[what, str(region), usage] = price
    return out


def family(kind: str) -> str:
    """`n2-standard-4` -> `N2`; `n1-...` is billed as `N1 Predefined`, matched as N1."""
    return kind.split("-", 1)[0].upper()


def compose(rates: Rates, kind: str, region: str, shape: Shape, usage: str) -> float | None:
    """One type's $/hour from its parts, or None when the catalogue lacks one of them."""
    if kind.startswith("gpu:"):
        price = rates.get((f"gpu:{GPU_SKU_NAME.get(shape.gpu or '', shape.gpu)}", region, usage))
        return None if price is None else round(price * shape.gpus, 6)
    core, ram = rates.get((f"{family(kind)}:core", region, usage)), rates.get((f"{family(kind)}:ram", region, usage))
    if core is None or ram is None:
        return None
    total = shape.vcpus * core + shape.memory_gib * ram
    if shape.gpus and family(kind) != "N1":  # N1's GPUs are attached, each priced in its own row
        gpu = rates.get((f"gpu:{GPU_SKU_NAME.get(shape.gpu or '', shape.gpu)}", region, usage))
        if gpu is None:
            return None
        total += shape.gpus * gpu
    return round(total, 6)


def offers(rates: Rates, wanted: Iterable[tuple[str, str]], shapes: Mapping[tuple[str, str], Shape],
           names: Mapping[tuple[str, str], str | None]) -> list[Offer]:
    """Offers for the (type, region) pairs asked for whose shape is known; a pair whose on-demand
    parts are missing is left out, so the bundled row (if any) stays."""
    out = []
    for kind, region in sorted(set(wanted)):
        shape = shapes.get((kind, region))
        if shape is None:
            continue
        on_demand = compose(rates, kind, region, shape, "on_demand")
        if on_demand is None:
            continue
        gpu_only = kind.startswith("gpu:")
        out.append(Offer("gcp", kind, region, on_demand, compose(rates, kind, region, shape, "spot"),
                         None if gpu_only else shape.vcpus, None if gpu_only else shape.memory_gib,
                         names.get((kind, region)) or shape.gpu, shape.gpus))
    return out


def shape_of(offer: Offer) -> Shape | None:
    if offer.instance_type.startswith("gpu:"):
        return Shape(0, 0.0, offer.accelerator, offer.accelerator_count) if offer.accelerator else None
    if offer.vcpus is None or offer.memory_gib is None:
        return None
    return Shape(offer.vcpus, offer.memory_gib, offer.accelerator, offer.accelerator_count)
