"""What the three cloud adapters (EC2, Compute Engine, Azure) share: their scopes (regions,
projects, subscriptions) listed in parallel, a scope that fails while others answer left out and
named in `degraded` (the Machines screen shows the rest and says what is missing, rather than an
empty or a failed list), the names cockpit shows and targets, retries with backoff for the SDKs
that have none of their own, and the parts of the machine contract a cloud account has nothing
for (templates, host GPUs, change events)."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from backends._fanout import fan_out
from cockpit.contracts import BadInput, CockpitError, NotFound, Unsupported
from cockpit.model import CloudProvisionSpec, HostGpu, Machine, Provisioned, ProvisionSpec, Template

T = TypeVar("T")
_TARGETABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$")  # what `vm ... SOURCE/NAME` accepts


@dataclass(frozen=True, slots=True)
class Listed:
    """One instance as its scope listed it, before cockpit names it."""

    scope: str
    """The region, project or subscription it was listed from (where its calls go)."""
    key: str
    """The cloud's own unique id."""
    plain: str
    """The name a person gave it (Name tag, instance name); may be shared or empty."""
    fallback: str
    """The name to target when `plain` is shared or unusable (an id, or name.zone)."""
    raw: Mapping[str, Any]
    """The instance as the API returned it (JSON shape), kept for `vm xml` and the audit log."""
    where: Mapping[str, str]
    """What the adapter needs to address it again (zone, resource group...)."""


def shown_names(items: Iterable[Listed]) -> dict[str, str]:
    """key -> the name cockpit shows and targets: the plain name where no other instance of the
    source has it and it fits a target (`source/name`), else the fallback."""
    items = list(items)
    counts: dict[str, int] = {}
    for i in items:
        counts[i.plain] = counts.get(i.plain, 0) + 1
    return {i.key: i.plain if i.plain and counts[i.plain] == 1 and _TARGETABLE.match(i.plain) and i.plain != i.fallback
            and not any(i.plain == j.fallback for j in items) else i.fallback for i in items}


def with_retries(call: Callable[[], T], transient: Callable[[BaseException], float | None], attempts: int,
                 base: float = 0.25, cap: float = 8.0) -> T:
    """`call`, again after a transient failure (throttling, 5xx), with full-jitter exponential
    backoff; `transient` says whether an error is one and how long the server asked to wait."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as e:
            wait = transient(e)
            if wait is None or attempt == attempts:
                raise
            time.sleep(max(wait, random.uniform(0, min(cap, base * 2 ** (attempt - 1)))))
    raise AssertionError("unreachable")


class CloudBackend:
    """Base of a cloud account's adapter. Subclasses list one scope and build one record."""

    kind = "cloud"
    scope_word = "region"

    def __init__(self, source: str, scopes: Sequence[str]) -> None:
        self.source = source
        self.scopes = list(scopes)
        self.degraded: dict[str, str] = {}
        """Scope -> why it is missing from the last list (the others answered)."""

    # -- what a subclass provides ------------------------------------------------------------
    def _list(self, scope: str) -> list[Listed]:
        raise NotImplementedError

    def _machine(self, item: Listed, name: str) -> Machine:
        raise NotImplementedError

    # -- listing -----------------------------------------------------------------------------
    def _safe(self, scope: str) -> list[Listed] | CockpitError:
        try:
            return self._list(scope)
        except CockpitError as e:
            return e

    def _every(self) -> tuple[list[Listed], dict[str, CockpitError]]:
        answers = fan_out(self._safe, self.scopes, workers=8, name=self.source)
        results = dict(zip(self.scopes, answers, strict=True))
        failed = {s: e for s, e in results.items() if isinstance(e, CockpitError)}
        if failed and len(failed) == len(self.scopes):
            raise next(iter(failed.values()))
        return [i for got in results.values() if isinstance(got, list) for i in got], failed

    def list_machines(self) -> Sequence[Machine]:
        """Every scope at once; one that fails is left out and named in `degraded`."""
        items, failed = self._every()
        self.degraded = {s: e.message.removeprefix(f"{self.source}: ") for s, e in failed.items()}
        shown = shown_names(items)
        return sorted((self._machine(i, shown[i.key]) for i in items), key=lambda m: (m.location, m.name))

    def _find(self, name: str) -> tuple[Listed, str]:
        """The instance a target names (its shown name, id or fallback), and its shown name."""
        items, failed = self._every()
        shown = shown_names(items)
        hits = [i for i in items if name in (shown[i.key], i.key, i.fallback)]
        if not hits:
            twins = sorted(shown[i.key] for i in items if i.plain == name)
            if twins:
                raise BadInput(f"{self.source}: {len(twins)} instances are named {name!r}: use one of "
                               f"{', '.join(twins)}")
            missing = f" ({', '.join(failed)} did not answer)" if failed else ""
            raise NotFound(f"{self.source}: no instance {name!r} in {', '.join(self.scopes)}{missing}")
        return hits[0], shown[hits[0].key]

    def get_machine(self, name: str) -> Machine:
        item, shown = self._find(name)
        return self._machine(item, shown)

    def describe(self, name: str) -> str:
        return as_json(self._find(name)[0].raw)

    # -- provisioning ------------------------------------------------------------------------
    def _no_templates(self) -> Unsupported:
        return Unsupported(f"{self.source}: a cloud has no templates: vm provision {self.source}/{self.scope_hint} "
                           "--type TYPE --image IMAGE --name NAME")

    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        raise self._no_templates()

    def provision(self, spec: ProvisionSpec) -> Machine:
        raise self._no_templates()

    scope_hint = "REGION"

    # -- what a cloud account does not have --------------------------------------------------
    def templates(self) -> Sequence[Template]:
        return ()

    def host_gpus(self) -> Sequence[HostGpu]:
        return ()  # a cloud account has no hypervisor host of its own to list

    def watch(self, on_change: Callable[[str], None]) -> None:
        return None  # state changes reach the cloud's event bus, not a client: the poll covers them

    def close(self) -> None:
        """Nothing of its own to release; subclasses close their SDK clients."""


def first_line(message: object) -> str:
    """The first line of an SDK's error message, without what the REST transports put first
    (`GET https://...: `, `(ErrorCode) `): the one line a person reads."""
    line = (str(message or "").splitlines() or [""])[0]
    return re.sub(r"^(?:(?:GET|POST|PUT|PATCH|DELETE) \S+: )?(?:\([A-Za-z.]+\) )?", "", line)[:200]


def spot_or_fallback(spec: CloudProvisionSpec, where: str, create: Callable[[bool], T],
                     refused: Callable[[BaseException], str | None]) -> tuple[T, list[str]]:
    """`create(spot)`; when spot capacity is refused (`refused` says why, or None for any other
    error) and the spec asks for it, once more on-demand, with the step said, not hidden."""
    try:
        return create(spec.spot), []
    except Exception as e:
        why = refused(e) if spec.spot else None
        if why is None or not spec.fallback_on_demand:
            raise
    step = f"spot capacity refused in {where} ({why}): asking for on-demand instead (--fallback on-demand)"
    return create(False), [step]


def one_by_one(spec: CloudProvisionSpec, where: str, create: Callable[[str, bool], Machine],
               refused: Callable[[BaseException], str | None]) -> Provisioned:
    """Each of the spec's names created in turn (`create(name, spot)`), for clouds that create one
    instance per call. Once spot capacity is refused and the fallback taken, the rest go on-demand
    at once: the zone or region has none to give now."""
    made: list[Machine] = []
    steps: list[str] = []
    spot = spec.spot
    for name in spec.names:
        machine, more = spot_or_fallback(replace(spec, spot=spot), where, partial(create, name), refused)
        spot = spot and not more
        made.append(machine)
        steps += more
    return Provisioned(tuple(made), tuple(steps))


def taken(names: Sequence[str], get: Callable[[str], object]) -> list[str]:
    """The names `get` finds (an instance exists), of those it is asked about."""
    out = []
    for name in names:
        try:
            get(name)
        except NotFound:
            continue
        out.append(name)
    return out


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 time from a cloud's JSON, or None when absent or unreadable."""
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def as_json(raw: Mapping[str, Any]) -> str:
    """An instance as the cloud described it (cockpit's own bookkeeping keys left out)."""
    return json.dumps({k: v for k, v in raw.items() if not k.startswith("_")}, indent=2, default=str, sort_keys=True)
