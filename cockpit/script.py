"""Headless mode: `cockpit --script FILE` (or `-`), and `cockpit COMMAND ...` for one line.

The whole script is parsed before anything runs, so a typo on line 9 cannot leave lines 1-8
half applied. Then lines run in order; the first failure stops the run unless --keep-going.
Exit codes: 0 ok, 1 an operation failed, 2 bad input, 3 refused (read-only or unconfirmed).

With `-o json` each line's record also says how fresh its answer is: when its reads were done
(`as_of`, the hub's clock), the health of each source the command consulted (`sources`), and the
error of each one that failed (`errors`), so a cron job tells a fresh answer from a stale or partial
one without parsing `error`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from cockpit.commands import Context, Registry, Result, Table
from cockpit.commands.grammar import tokenize
from cockpit.contracts import CockpitError
from cockpit.freshness import judge, last_error
from cockpit.hub import Hub
from cockpit.model import SourceHealth
from cockpit.sanitise import for_display, for_line
from cockpit.secrets import redact
from cockpit.serialize import to_jsonable, utc_iso


@dataclass(frozen=True, slots=True)
class ScriptOptions:
    output: str = "text"
    yes: bool = False
    dry_run: bool = False
    keep_going: bool = False


@dataclass(frozen=True, slots=True)
class Consulted:
    """When a command's reads were done, and the health of each source it consulted, as it stood
    after them: what a JSON record says about how far its answer can be trusted."""

    as_of: datetime
    health: tuple[SourceHealth, ...] = ()

    def sources(self) -> dict[str, dict[str, Any]]:
        """Per source: its health and since when, when it last answered, whether what it last said
        is stale (it failed since), and why its last call failed."""
        out = {}
        for h in self.health:
            error = last_error(h)
            out[h.source] = {"health": h.state.value, "since": utc_iso(h.since), "as_of": utc_iso(h.as_of),
                             "stale": judge(h.as_of, self.as_of, None, error).stale,
                             "error": redact(error) if error else None}
        return out

    def errors(self) -> dict[str, str]:
        """Each consulted source whose last call failed, with why: the sources a partial answer lacks."""
        return {h.source: redact(e) for h in self.health if (e := last_error(h)) is not None}


def health_marks(hub: Hub) -> dict[str, SourceHealth]:
    """Every source's health record now, to find later which sources were called in between."""
    return {h.source: h for h in hub.health_all()}


def consulted(hub: Hub, marks: Mapping[str, SourceHealth], also: str | None = None) -> Consulted:
    """The sources called since `marks` were taken (and `also`: the source a change is about, asked
    or not), found without each command saying so: the hub stores a new health record at the end of
    every call, answered or failed, so a record that is not the one marked means the source was
    called. Lines run one at a time and script mode polls nothing in the background, so every such
    call is the command's own."""
    now = hub.now()
    health = tuple(h for h in hub.health_all() if marks.get(h.source) is not h or h.source == also)
    return Consulted(now, health)


def read_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines that hold a command (blank lines and `#` comments dropped). Lines end at "\\n"
    only (a CRLF line loses its "\\r"): str.splitlines() would also split at \\v, \\f, \\x1c-\\x1e, \\x85,
    U+2028 and U+2029, and every error after one of those would name the wrong line."""
    out = []
    for n, raw in enumerate(text.split("\n"), 1):
        raw = raw.removesuffix("\r")
        try:
            empty = not tokenize(raw)
        except CockpitError:
            empty = False  # let the parser report the unbalanced quote with its line number
        if not empty:
            out.append((n, raw.strip()))
    return out


def run_script(lines: Iterable[tuple[int, str]], *, name: str, registry: Registry, ctx: Context,
               opts: ScriptOptions, out: IO[str], err: IO[str]) -> int:
    lines = list(lines)
    parsed = []
    bad = 0
    for n, line in lines:
        try:
            parsed.append((n, registry.parse(line, ctx.hub)))
        except CockpitError as e:
            bad += 1
            _emit(Result("", line, "invalid", e.exit_code, error=e.message), n, name, opts, out, err,
                  Consulted(ctx.hub.now()))
    if bad:
        if len(lines) > 1:
            print(for_display(f"{name}: {bad} bad line(s); nothing was run"), file=err)
        return 2
    code = 0
    for n, inv in parsed:
        marks = health_marks(ctx.hub)
        result = registry.run_invocation(inv, ctx, yes=opts.yes, dry_run=opts.dry_run)
        changed = result.plan.source if result.plan is not None and result.plan.mutating else None
        _emit(result, n, name, opts, out, err, consulted(ctx.hub, marks, changed))
        if result.exit_code and not code:
            code = result.exit_code
            if not opts.keep_going:
                break
    return code


def _emit(r: Result, n: int, name: str, opts: ScriptOptions, out: IO[str], err: IO[str],
          read: Consulted | None = None) -> None:
    error = redact(r.error) if r.error else None
    if opts.output == "json":  # exact: json.dumps (ensure_ascii) escapes every control and bidi character
        record: dict[str, Any] = {
            "line": n, "input": redact(r.line), "command": r.command or None, "status": r.status,
            "exit_code": r.exit_code, "data": to_jsonable(r.outcome.data), "error": error,
            "duration_ms": round(r.duration_s * 1000, 1),
            "as_of": utc_iso(read.as_of) if read else None, "sources": read.sources() if read else {},
            "errors": read.errors() if read else {},
        }
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        out.flush()
        return
    if r.outcome.table is not None:
        out.write(render_table(r.outcome.table))
    # from here on the text is for a person: backend strings never reach the terminal raw
    if r.outcome.text:  # with a table, the notes under it (a source without a driver, a missing series)
        out.write(for_display(r.outcome.text.rstrip("\n")) + "\n")
    if r.plan is not None and r.status == "ok" and r.plan.warnings:
        for w in r.plan.warnings:
            err.write(for_display(f"{_where(name, n)}: warning: {w}") + "\n")
    if error:
        err.write(for_display(f"{_where(name, n)}: {error}") + "\n")
    out.flush()


def _where(name: str, n: int) -> str:
    """`file:line`, or just `cockpit` for a command given on the command line (line 0)."""
    return f"{name}:{n}" if n else name


def render_table(table: Table) -> str:
    """kubectl-style columns: upper-case headers, two spaces between, no borders. Every cell is
    sanitised for one line (names, labels, messages come from backends)."""
    if not table.rows:
        return "(none)\n"
    columns = [for_line(c) for c in table.columns]
    rows = [[for_line(c) for c in row] for row in table.rows]
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in (columns, *rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines) + "\n"
