"""Helpers every command group uses: asking several sources at once (cockpit.state.gather, with
the command's context), naming the sources."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from cockpit.commands.registry import Context
from cockpit.contracts import CockpitError, Role, SourceBackend
from cockpit.state.gather import gather_from

T = TypeVar("T")
B = TypeVar("B", bound=SourceBackend)


def sources_of(ctx: Context, args: Mapping[str, Any], role: str) -> list[str]:
    """`--source S` when given, else every source with that role."""
    return [args["source"]] if args.get("source") else [s.name for s in ctx.hub.sources(role)]


def gather(ctx: Context, sources: list[str], role: Role[B], fn: Callable[[B], Iterable[T]]
           ) -> tuple[list[T], CockpitError | None]:
    """Ask every source at once, in the role given; what the healthy ones answered, and one error
    naming the others."""
    return gather_from(ctx.hub, sources, role, fn)
