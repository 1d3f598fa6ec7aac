"""What the clouds' billing says was charged, asked once an hour at most (the Costs screen's spend
grouping and `cost spend` alike).

Answers are kept for an hour by hub (the app's, or a script's): Cost Explorer bills each request
($0.01) and both APIs refresh a few times a day, so the Costs screen must not ask at every refresh.
Two hubs (two tests, two configs) never share an answer, and a hub's answers go with it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cockpit.contracts import SPEND, CockpitError, Unsupported
from cockpit.hub import Hub
from cockpit.providers import PROVIDERS, Provider
from cockpit.spend import Spend
from cockpit.state.gather import merged

KEEP_S = 3600.0
"""How long an answer is reused."""
_CACHE: weakref.WeakKeyDictionary[Hub, dict[tuple[str, date, date], tuple[datetime, Spend]]] = \
    weakref.WeakKeyDictionary()
"""hub -> (source, start, end) -> (when asked, on the hub's clock, so a test can age it; the answer)."""
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class SpendAnswer:
    spends: tuple[Spend, ...]
    not_read: tuple[tuple[str, str], ...]
    """(source, why) of sources whose billing is not read (Compute Engine)."""
    error: CockpitError | None


def billed_sources(hub: Hub, only: str | None = None) -> list[str]:
    """The cloud sources (priced by the catalogue), whether or not their billing is read."""
    return [s.name for s in hub.sources("machines") if _kind(hub, s.name).catalogue and only in (None, s.name)]


def _kind(hub: Hub, source: str) -> Provider:
    return PROVIDERS[hub.source(source).kind]


def gather_spend(hub: Hub, names: list[str], start: date, end: date) -> SpendAnswer:
    """Each source's charges over [start, end), from the cache when an hour old at most."""
    now = hub.now()
    spends: list[Spend] = []
    ask: list[str] = []
    with _LOCK:
        cache = _CACHE.setdefault(hub, {})
        for name in names:
            kept = cache.get((name, start, end))
            if kept is not None and timedelta(0) <= now - kept[0] < timedelta(seconds=KEEP_S):
                spends.append(kept[1])
            else:
                ask.append(name)
    not_read: list[tuple[str, str]] = []
    errors: list[CockpitError] = []
    # a cloud without the spend role says why from its descriptor, without a call
    not_read += [(name, _kind(hub, name).spend_unread) for name in ask if not _kind(hub, name).plays("spend")]
    ask = [name for name in ask if _kind(hub, name).plays("spend")]
    for name, got in hub.call_many(ask, SPEND, lambda b: b.spend(start, end)).items():
        if isinstance(got, Unsupported):
            not_read.append((name, got.message.removeprefix(f"{name}: ")))
        elif isinstance(got, CockpitError):
            errors.append(got)
        else:
            spends.append(got)
            with _LOCK:
                cache[name, start, end] = (now, got)
    return SpendAnswer(tuple(sorted(spends, key=lambda s: s.source)), tuple(sorted(not_read)), merged(errors))


def forget(hub: Hub | None = None) -> None:
    """Drop kept answers, a hub's or all (a user's explicit refresh; tests)."""
    with _LOCK:
        if hub is None:
            _CACHE.clear()
        else:
            _CACHE.pop(hub, None)
