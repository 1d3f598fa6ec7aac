"""The price catalogue: hourly on-demand and spot prices per cloud, instance type and region.

The bundled catalogue ships in the package (cockpit/data/gpu_prices.csv, extracted from the public
skypilot-org/skypilot-catalog; its README says from which commits and how). `cost catalogue
refresh` asks the providers' own price APIs and keeps what they answered per cloud, with the time,
in $XDG_CACHE_HOME/cockpit/prices.json; those prices replace the bundled ones for the types they
cover. Every figure says which catalogue it came from and how old it is. A type the catalogue
lacks has no price, never zero: `lookup` says so in words.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

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
class Refreshed:
    """What one cloud's price API answered, and when."""

    cloud: str
    api: str
    """`AWS Price List API`, `Azure retail prices`..."""
    at: datetime
    offers: int


def _age(as_of: date, today: date) -> str:
    days = max(0, (today - as_of).days)
    # not cockpit.format's plural: backends import this module, and may not import that one
    return "today" if days == 0 else f"{days} day{'' if days == 1 else 's'} old"


@dataclass(frozen=True, slots=True)
class Catalogue:
    name: str
    """`bundled`, or a test's own."""
    as_of: date
    offers: Mapping[tuple[str, str, str], Offer]
    """(cloud, instance type, region) -> offer. GPUs that attach to a host (Compute Engine N1)
    are keyed by `gpu:MODEL:COUNT` in place of the type."""
    refreshed: Mapping[str, Refreshed] = field(default_factory=dict)
    """Clouds whose prices came from their API since (they replace the bundled rows they cover)."""
    problem: str = ""
    """Why the refreshed prices could not be read (a damaged cache file), said with every figure."""

    def age_days(self, today: date) -> int:
        return max(0, (today - self.as_of).days)

    def describe(self, today: date) -> str:
        """`bundled catalogue of 2026-11-23 (3 days old)`, then each refreshed cloud
        (`; aws from the AWS Price List API of 2026-11-24 (today)`): what each figure says it came from."""
        text = f"{self.name} catalogue of {self.as_of.isoformat()} ({_age(self.as_of, today)})"
        for r in sorted(self.refreshed.values(), key=lambda r: r.cloud):
            text += f"; {r.cloud} from the {r.api} of {r.at.date().isoformat()} ({_age(r.at.date(), today)})"
        return text + (f"; {self.problem}" if self.problem else "")


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


CACHE_FILE = ["prices.json"]
"""The demo keeps its refreshed prices (from local fakes) apart: `demo-prices.json`."""


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cockpit" / CACHE_FILE[0]


def _offer(raw: Mapping[str, Any]) -> Offer:
    return Offer(str(raw["cloud"]), str(raw["instance_type"]), str(raw["region"]), raw.get("on_demand"),
                 raw.get("spot"), raw.get("vcpus"), raw.get("memory_gib"), raw.get("accelerator"),
                 int(raw.get("accelerator_count") or 0))


def read_cache(path: Path) -> dict[str, tuple[Refreshed, list[Offer]]]:
    """cloud -> (when and from where, its offers). Raises ValueError, naming the file, if damaged."""
    try:
        raw = json.loads(path.read_text())
        return {cloud: (Refreshed(cloud, str(c["api"]), datetime.fromisoformat(c["at"]), len(c["offers"])),
                        [_offer(o) for o in c["offers"]]) for cloud, c in raw["clouds"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: {type(e).__name__}: {e}") from None


def write_cache(path: Path, cloud: str, api: str, at: datetime, offers: Iterable[Offer]) -> None:
    """Keep one cloud's answer, leaving the other clouds' as they were (written whole, then renamed,
    so a reader never sees half a file)."""
    try:
        clouds = {c: {"api": r.api, "at": r.at.isoformat(), "offers": [asdict(o) for o in found]}
                  for c, (r, found) in read_cache(path).items()} if path.exists() else {}
    except ValueError:
        clouds = {}  # a damaged file is replaced by what was just fetched
    clouds[cloud] = {"api": api, "at": at.isoformat(), "offers": [asdict(o) for o in offers]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "clouds": clouds}, indent=1))
    tmp.replace(path)


def with_refreshed(base: Catalogue, path: Path) -> Catalogue:
    """The bundled catalogue with each refreshed cloud's prices laid over it."""
    if not path.exists():
        return base
    try:
        cached = read_cache(path)
    except ValueError as e:
        return replace(base, problem=f"refreshed prices unreadable ({e}): bundled prices used")
    offers = dict(base.offers)
    for _, found in cached.values():
        offers.update({(o.cloud, o.instance_type, o.region): o for o in found})
    return replace(base, offers=offers, refreshed={c: r for c, (r, _) in cached.items()})


@lru_cache(maxsize=1)
def current() -> Catalogue:
    """The catalogue every figure uses: the bundled one (336 rows, a few ms) with what the last
    refreshes fetched, read once per process; `reload()` after a refresh."""
    return with_refreshed(bundled(), cache_path())


def reload() -> Catalogue:
    current.cache_clear()
    return current()
