"""`cost catalogue` and `cost catalogue refresh`: which prices every figure uses and how old they
are, and a refresh from the providers' own price APIs through each cloud's configured source. A
cloud whose refresh fails keeps the prices it had (bundled, or an earlier refresh) and says so;
the command then exits non-zero, so cron notices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import MACHINES, PRICES, CockpitError, PriceBackend
from cockpit.prices import Catalogue, Offer, bundled, cache_path, current, reload, write_cache
from cockpit.providers import PROVIDERS, clouds, region_of

CLOUDS = tuple(c.kind for c in clouds())
"""The kinds priced from the catalogue, each refreshed from its descriptor's price API."""
REFRESH_TIMEOUT_S = 300.0
"""A refresh asks one question per type and region (EC2) or per region (Azure): minutes, not seconds."""


def _origin(cat: Catalogue, cloud: str) -> str:
    r = cat.refreshed.get(cloud)
    return f"the {r.api} of {r.at.date().isoformat()}" if r else f"the {cat.name} prices of {cat.as_of.isoformat()}"


def _rows(cat: Catalogue, results: Mapping[str, str]) -> tuple[tuple[str, ...], ...]:
    rows = []
    for cloud in CLOUDS:
        count = sum(1 for (c, _, _) in cat.offers if c == cloud)
        r = cat.refreshed.get(cloud)
        rows.append((cloud, str(count), r.api if r else cat.name, (r.at if r else cat.as_of).isoformat()[:16],
                     results.get(cloud, "")))
    return tuple(rows)


def _show(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        cat = current()
        data = {"describe": cat.describe(ctx.hub.now().date()), "cache": str(cache_path()),
                "clouds": {c: {"from": _origin(cat, c), "prices": sum(1 for (x, _, _) in cat.offers if x == c)}
                           for c in CLOUDS}}
        return Outcome(data=data, text=f"prices: {data['describe']}\ncache: {cache_path()}",
                       table=Table(("CLOUD", "PRICES", "FROM", "AS OF", ""), _rows(cat, {})))

    return Plan("cost catalogue", "the price catalogue in use", run)


def wanted_for(ctx: Context, cloud: str, source: str) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Offer]]:
    """What to ask a cloud for: every type and region of the bundled catalogue (with Compute
    Engine's attached-GPU rows), and the types the source's machines run (in their regions), so a
    type the bundle lacks gets a price too."""
    known = {(kind, region): o for (c, kind, region), o in bundled().offers.items() if c == cloud}
    wanted = set(known)
    try:
        machines = ctx.hub.call(source, MACHINES, lambda b: b.list_machines())
    except CockpitError:
        machines = []  # the price API may still answer; the bundled list is asked for anyway
    wanted |= {(m.machine_type, region_of(cloud, m.location)) for m in machines if m.machine_type}
    return sorted(wanted), known


def _asker(wanted: list[tuple[str, str]], known: dict[tuple[str, str], Offer]) -> Callable[[PriceBackend], list[Offer]]:
    return lambda b: list(b.price_offers(wanted, known))


def _refresh(ctx: Context, args: Mapping[str, Any]) -> Plan:
    clouds = [args["cloud"]] if args.get("cloud") else list(CLOUDS)

    def run() -> Outcome:
        before = current()
        results: dict[str, str] = {}
        failed: list[str] = []
        for cloud in clouds:
            source = next((s.name for s in ctx.hub.sources("machines") if s.kind == cloud), None)
            if source is None:
                results[cloud] = f"not refreshed: no {cloud} source in the config"
                continue
            wanted, known = wanted_for(ctx, cloud, source)
            try:
                offers = ctx.hub.call(source, PRICES, _asker(wanted, known), timeout=REFRESH_TIMEOUT_S)
            except CockpitError as e:
                results[cloud] = f"refresh failed ({e.message}); kept {_origin(before, cloud)}"
                failed.append(f"{cloud}: {results[cloud]}")
                continue
            write_cache(cache_path(), cloud, PROVIDERS[cloud].price_api, ctx.hub.now(), offers)
            results[cloud] = f"{len(offers)} prices from {source} ({len(wanted) - len(offers)} types without one kept)"
        cat = reload()
        data = {"results": results, "describe": cat.describe(ctx.hub.now().date()), "cache": str(cache_path())}
        return Outcome(data=data, text=f"prices: {data['describe']}",
                       table=Table(("CLOUD", "PRICES", "FROM", "AS OF", "RESULT"), _rows(cat, results)),
                       error=CockpitError("; ".join(failed)) if failed else None)

    return Plan("cost catalogue refresh", "prices from the providers' APIs", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("cost", "catalogue"), "which prices are in use, from where and of when", _show, ()))
    reg.add(CommandSpec(("cost", "catalogue", "refresh"), "prices from AWS's Price List API and spot history, "
                        "Azure's retail prices and Google's Cloud Billing Catalog, kept in the cache", _refresh, (
        Param("--cloud", "only this cloud", kind="choice", choices=CLOUDS, metavar="CLOUD"),)))
