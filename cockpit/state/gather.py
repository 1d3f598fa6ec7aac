"""Asking several sources at once: what the healthy ones answered, and one error naming the others.
Shared by the screens' workers and the commands (which add their command context on top)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from cockpit.contracts import CockpitError, Role, SourceBackend
from cockpit.hub import Hub

T = TypeVar("T")
B = TypeVar("B", bound=SourceBackend)


def gather_from(hub: Hub, sources: list[str], role: Role[B], fn: Callable[[B], Iterable[T]]
                ) -> tuple[list[T], CockpitError | None]:
    """Ask every source at once, in the role given; what the healthy ones answered, and one error
    naming the others."""
    items: list[T] = []
    errors: list[CockpitError] = []
    for got in hub.call_many(sources, role, fn).values():
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
