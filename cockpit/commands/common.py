"""Helpers every command group uses: asking several sources at once, naming the sources."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from cockpit.commands.registry import Context
from cockpit.contracts import CockpitError
from cockpit.hub import Hub

T = TypeVar("T")


def sources_of(ctx: Context, args: Mapping[str, Any], role: str) -> list[str]:
    """`--source S` when given, else every source with that role."""
    return [args["source"]] if args.get("source") else [s.name for s in ctx.hub.sources(role)]


def gather(ctx: Context, sources: list[str], fn: Callable[[Any], Iterable[T]]) -> tuple[list[T], CockpitError | None]:
    """Ask every source at once; what the healthy ones answered, and one error naming the others."""
    return gather_from(ctx.hub, sources, fn)


def gather_from(hub: Hub, sources: list[str], fn: Callable[[Any], Iterable[T]]
                ) -> tuple[list[T], CockpitError | None]:
    """`gather` for a caller with a hub and no command context (a screen's worker)."""
    items: list[T] = []
    errors: list[CockpitError] = []
    for got in hub.call_many(sources, fn).values():
        if isinstance(got, CockpitError):
            errors.append(got)
        else:
            items.extend(got)
    return items, merged(errors)


def merged(errors: Iterable[CockpitError | None]) -> CockpitError | None:
    """One error for several sources' failures: the only one as it is, or their messages joined."""
    found = [e for e in errors if e is not None]
    if len(found) == 1:
        return found[0]
    return CockpitError("; ".join(e.message for e in found)) if found else None
