"""The price catalogue: hourly on-demand and spot prices per cloud, instance type and region.

The bundled catalogue ships in the package (cockpit/data/gpu_prices.csv, extracted from the public
skypilot-org/skypilot-catalog; its README says from which commits and how). Every price carries
the catalogue it came from and that catalogue's date, so every figure on screen can say how old it
is. A type the catalogue lacks has no price, never zero: `lookup` says so in words.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

BUNDLED = Path(__file__).parent / "data" / "gpu_prices.csv"
BUNDLED_DATE = date(2026, 11, 23)
"""When the bundled file was extracted from the source catalogue (its README names the commits)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """One catalogue row: a type in a region, with what it holds and costs."""

    cloud: str
    instance_type: str
    region: str
    on_demand: float | None
    spot: float | None
    vcpus: int | None = None
    memory_gib: float | None = None
    accelerator: str | None = None
    accelerator_count: int = 0


@dataclass(frozen=True, slots=True)
class Catalogue:
    name: str
    """`bundled`, or where a refresh came from (`aws pricing api`)."""
    as_of: date
    offers: Mapping[tuple[str, str, str], Offer]
    """(cloud, instance type, region) -> offer. GPUs that attach to a host (Compute Engine N1)
    are keyed by `gpu:MODEL:COUNT` in place of the type."""

    def age_days(self, today: date) -> int:
        return max(0, (today - self.as_of).days)

    def describe(self, today: date) -> str:
        """`bundled catalogue of 2026-11-23 (3 days old)`: what each figure says it came from."""
        age = self.age_days(today)
        return f"{self.name} catalogue of {self.as_of.isoformat()} ({'today' if age == 0 else f'{age} days old'})"


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def read_offers(rows: Iterable[Mapping[str, str]]) -> dict[tuple[str, str, str], Offer]:
    out: dict[tuple[str, str, str], Offer] = {}
    for r in rows:
        cloud, kind, region = r["cloud"].strip(), r["instance_type"].strip(), r["region"].strip()
        count = int(_num(r.get("accelerator_count")) or 0)
        accelerator = (r.get("accelerator") or "").strip() or None
        if not kind:  # a GPU priced on its own, to add to its host's price
            if not accelerator:
                continue
            kind = f"gpu:{accelerator}:{count}"
        vcpus = _num(r.get("vcpus"))
        out[cloud, kind, region] = Offer(cloud, kind, region, _num(r.get("price_hour_usd")),
                                         _num(r.get("spot_price_hour_usd")), int(vcpus) if vcpus else None,
                                         _num(r.get("memory_gib")), accelerator, count)
    return out


def bundled() -> Catalogue:
    with BUNDLED.open(newline="") as f:
        return Catalogue("bundled", BUNDLED_DATE, read_offers(csv.DictReader(f)))


@lru_cache(maxsize=1)
def current() -> Catalogue:
    """The catalogue every figure uses: the bundled one, read once per process (336 rows, a few ms)."""
    return bundled()


def region_of(provider: str, location: str) -> str:
    """A machine's region from its zone: us-east-1a -> us-east-1 (EC2), us-central1-a ->
    us-central1 (Compute Engine), eastus-1 -> eastus (Azure, zonal)."""
    if provider == "aws":
        return re.sub(r"(?<=\d)[a-z]$", "", location)
    if provider == "gcp":
        return re.sub(r"-[a-z]$", "", location)
    if provider == "azure":
        return re.sub(r"-\d+$", "", location)
    return location
