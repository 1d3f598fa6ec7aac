"""Commands about cockpit itself: `sources`, `audit`, `help`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.audit import change_text
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import ANY_SOURCE, BadInput, CockpitError
from cockpit.model import HealthState
from cockpit.providers import PROVIDERS
from cockpit.serialize import to_jsonable


def _sources(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        names = [s.name for s in ctx.hub.sources()]
        # a cheap real call per source, so the health shown is measured now, not remembered; the first
        # may build the backend (SDK import), so the ones that answered are asked again for the round trip
        first = ctx.hub.call_many(names, ANY_SOURCE, lambda b: b.ping())
        ctx.hub.call_many([n for n in names if not isinstance(first[n], CockpitError)], ANY_SOURCE, lambda b: b.ping())
        rows, data = [], []
        for name in names:
            cfg = ctx.hub.source(name)
            h = ctx.hub.health(name)
            ro = ctx.hub.is_read_only(name)
            rows.append((name, cfg.kind, h.state.value, "yes" if ro else "no",
                         "-" if h.latency_ms is None else f"{h.latency_ms:.0f}ms", h.reason or ""))
            data.append({"source": name, "kind": cfg.kind, "health": h.state.value, "read_only": ro,
                         "latency_ms": h.latency_ms, "reason": h.reason, "as_of": to_jsonable(h.as_of),
                         "since": to_jsonable(h.since)})
        unwell = [f"{n}: {h.state.value}" for n in names if (h := ctx.hub.health(n)).state is not HealthState.OK]
        error = CockpitError(f"{len(unwell)} of {fmt.plural(len(names), 'source')} not ok "
                             f"({', '.join(unwell)})") if unwell else None
        return Outcome(data=data, table=Table(("SOURCE", "KIND", "HEALTH", "READ-ONLY", "LATENCY", "REASON"),
                                              tuple(rows)), error=error)

    return Plan("sources", "list sources", run)


def _story(ctx: Context, wanted: str) -> Outcome:
    """Every line of one operation, in order: its intent, when it was applied, each step (and
    each word a person sent it), its outcome: a guarded rollout reads as its whole story."""
    lines, bad = ctx.audit.lines()
    ids = sorted({e.id for e in lines if e.id and e.id.startswith(wanted)})
    if len(wanted) < 4 or not ids:
        raise BadInput(f"--op {wanted!r}: no operation with that id (4+ characters; see 'op list')")
    if len(ids) > 1:
        raise BadInput(f"--op {wanted!r} names {len(ids)} operations: {', '.join(ids[:5])}")
    mine = [e for e in lines if e.id == ids[0]]
    rows = tuple((e.time[:19].replace("T", " "), e.user, e.phase or "-", e.result,
                  e.message or e.error or (change_text(e.previous, e.new) if e.phase in ("intent", "outcome")
                                           else "-")) for e in mine)
    return Outcome(data=[to_jsonable(e) for e in mine], table=Table(("TIME", "USER", "PHASE", "RESULT", "WHAT"),
                                                                      rows),
                   error=CockpitError(f"{bad} unreadable line(s) in {ctx.audit.path} were skipped") if bad else None)


def _audit(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        if args["op"]:
            return _story(ctx, args["op"])
        entries, bad = ctx.audit.read(limit=args["limit"] or 50)
        if args["source"]:
            entries = [e for e in entries if e.source == args["source"]]
        rows = tuple((e.time[:19].replace("T", " "), e.user, e.origin, e.command, e.target or "-", e.result,
                      change_text(e.previous, e.new)) for e in entries)
        error = CockpitError(f"{bad} unreadable line(s) in {ctx.audit.path} were skipped") if bad else None
        return Outcome(data=[to_jsonable(e) for e in entries], error=error,
                       table=Table(("TIME", "USER", "FROM", "COMMAND", "TARGET", "RESULT", "CHANGE"), rows))

    return Plan("audit", "show the audit log", run)


EXIT_CODES = ("Exit codes: 0 ok; 1 failed (a read where some sources failed prints the others' answers, "
              "names each failed source and exits 1; a change whose audit record cannot be written is not "
              "made); 2 bad input (file:line: reason; nothing ran); 3 refused (read-only, or a change "
              "without --yes). With -o json each line is one record that also says as_of (when its reads "
              "were done), sources (the health of each source it consulted, and whether what it said is "
              "stale) and errors ({source: why} for each that failed).")


def who_can(capability: str) -> str:
    """Which kinds of source can do it, and why the others cannot (their descriptors say)."""
    able = [p.kind for p in PROVIDERS.values() if p.can(capability)]
    unable = [f"not {p.kind}: {p.refusals[capability]}" for p in PROVIDERS.values() if capability in p.refusals]
    return "; ".join([f"on {', '.join(able) or 'no kind of'} sources", *unable])


def register(reg: Registry) -> None:
    def _help(ctx: Context, args: Mapping[str, Any]) -> Plan:
        from cockpit import cli_help  # it renders what this module's registry holds: imported when asked

        words = args["command"] or []
        every = reg.specs()  # what a script line can run (`cockpit help` at a shell adds `completion`)
        # a word that names no command is bad input (exit 2), found while planning, with the nearest
        spec, matches = cli_help.lookup(every, words) if words else (None, every)
        specs = [spec] if spec is not None else matches
        text = cli_help.help_text(every, words)

        def run() -> Outcome:
            return Outcome(data=[{"command": s.name, "usage": s.usage(), "summary": s.summary,
                                  "mutating": s.mutating, "examples": list(s.examples),
                                  "kinds": [p.kind for p in PROVIDERS.values()
                                            if s.capability and p.can(s.capability)]}
                                 for s in specs], text=text)

        return Plan("help", "help", run)

    reg.add(CommandSpec(("sources",), "list sources with their health and read-only state", _sources))
    reg.add(CommandSpec(("audit",), "show the newest audit log entries", _audit, (
        Param("--limit", "how many entries (default 50)", kind="int", metavar="N"),
        Param("--source", "only this source", kind="source", metavar="SOURCE"),
        Param("--op", "one operation's whole story, line by line (its id, 4+ characters)", metavar="ID"))))
    reg.add(CommandSpec(("help",), "list commands, or describe one", _help,
                        (Param("command", "a command, e.g. 'vm provision'", repeat=True, metavar="COMMAND"),)))
