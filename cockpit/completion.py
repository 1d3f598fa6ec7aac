"""Shell completion for bash, zsh and fish, generated from the one command registry.

`cockpit completion SHELL` prints a script that carries the registry's command words, options and
option values as data, so a TAB runs no Python and never asks a backend: it completes command words,
then options, then targets from the names the last listings saw (`vm list`, `node list`,
`deploy list`, `isvc list`, `hpa list`, `model list`, `sources`). Those runs write the names here,
one file per listing under $XDG_STATE_HOME/cockpit/completion/ (the demo's under .../demo/), each
name checked against a strict pattern first: a name from a backend reaches a shell's completion
list, so nothing that a shell could expand or a terminal could interpret is kept.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cockpit.cli_help import INSTALL, SHELLS
from cockpit.commands.registry import CommandSpec, Context, Invocation, Plan, Registry, Result
from cockpit.completion_scripts import BASH, FISH, ZSH
from cockpit.config import THEMES, default_state_dir
from cockpit.history import write_private
from cockpit.sanitise import for_display

LISTINGS: dict[str, str] = {"vm list": "machines", "node list": "nodes", "deploy list": "deployments",
                            "isvc list": "isvcs", "hpa list": "hpas", "model list": "models", "sources": "sources"}
"""The command whose table's first column names the targets of a kind -> its cache file."""

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:@/-]{0,252}$")
"""What a cached name may be: no space, quote, `$`, backtick, glob or control character."""

MAX_NAMES = 20_000

PROCESS_VALUES: dict[str, str] = {"-o": "text json", "--output": "text json", "--theme": " ".join(THEMES),
                                  "--config": "@file", "--script": "@file"}
"""Cockpit's own valued options (cockpit.cli): what follows each."""

AFTER_COMMAND = "--output --demo --read-only --config"
"""Cockpit's own options offered after a command's (they may stand anywhere on the line)."""

BEFORE_COMMAND = ("--demo --config --script --output --yes --dry-run --keep-going --read-only --theme "
                  "--version --help")


# -- the target cache ---------------------------------------------------------------------------------------
def cache_dir(demo: bool = False, base: Path | None = None) -> Path:
    root = (base or default_state_dir()) / "completion"
    return root / "demo" if demo else root


def _read(path: Path) -> list[str]:
    try:
        return [n for n in path.read_text(encoding="utf-8").splitlines() if SAFE.match(n)]
    except (OSError, UnicodeDecodeError):
        return []


def _write(path: Path, names: Sequence[str]) -> None:
    """Atomically (a TAB never reads half a file), private (names of a fleet are not for everyone)."""
    path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the demo's under the real one's
    write_private(path, names)


def remember(command: str, args: Mapping[str, Any], result: Result, directory: Path) -> None:
    """Keep the names a listing showed for completion. A full, clean listing replaces what was kept;
    a filtered one (`--source`, `--state`) or one where a source failed adds to it, so that a name
    is not forgotten because it was not asked for. Its source names are kept too (`--source` values)."""
    file = LISTINGS.get(command)
    table = result.outcome.table
    if file is None or table is None or result.status not in ("ok", "failed"):
        return
    names = sorted({str(row[0]) for row in table.rows if row and SAFE.match(str(row[0]))})
    partial = result.status != "ok" or any(v not in (None, False, [], ()) for v in args.values())
    path = directory / file
    kept = sorted(set(names) | set(_read(path))) if partial else names
    _write(path, kept[:MAX_NAMES])
    if file != "sources":
        sources = {n.split("/", 1)[0] for n in names if "/" in n}
        if sources - set(old := _read(directory / "sources")):
            _write(directory / "sources", sorted(sources | set(old)))


class Remembering(Registry):
    """The registry a headless run uses: the same commands, and each listing's names kept for the
    shell's completion (a write that fails is ignored: completion is a convenience)."""

    def __init__(self, reg: Registry, directory: Path) -> None:
        super().__init__()
        for spec in reg.specs():
            self.add(spec)
        self.directory = directory

    def run_invocation(self, inv: Invocation, ctx: Context, *, yes: bool = False, dry_run: bool = False,
                       confirm: Callable[[Plan], bool] | None = None) -> Result:
        result = super().run_invocation(inv, ctx, yes=yes, dry_run=dry_run, confirm=confirm)
        with contextlib.suppress(OSError, ValueError):
            remember(inv.spec.name, inv.args, result, self.directory)
        return result


# -- the tables the scripts carry ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tables:
    """What a TAB needs, keyed by the words typed so far (`^` + command words for the tree)."""

    tree: dict[str, str]
    """`^vm` -> the words that may follow `vm` (`^` alone: the first words)."""
    options: dict[str, str]
    """A whole command -> its options, the line flags it takes and --help."""
    values: dict[str, str]
    """`vm list --source` (or a process option alone) -> what may follow: words, `@file`, or
    `@machines`-style cache files (comma-separated)."""
    positionals: dict[str, str]
    """A whole command -> what each positional may be, `|`-separated in order (empty: nothing known)."""


def _cached(spec: CommandSpec, kind: str, metavar: str) -> str:
    if kind == "workload":
        return {"deploy": "@deployments", "isvc": "@isvcs", "hpa": "@hpas"}.get(spec.words[0], "@deployments,isvcs")
    if kind == "target" and "WHERE" in metavar:  # a new machine's region, not an existing machine
        return ""
    return {"target": "@machines", "node": "@nodes", "model": "@models", "source": "@sources"}.get(kind, "")


def tables(specs: Sequence[CommandSpec]) -> Tables:
    tree: dict[str, list[str]] = {}
    options: dict[str, str] = {}
    values: dict[str, str] = dict(PROCESS_VALUES)
    positionals: dict[str, str] = {}
    for spec in specs:
        for n, word in enumerate(spec.words):
            nexts = tree.setdefault("^" + " ".join(spec.words[:n]), [])
            if word not in nexts:
                nexts.append(word)
        flags = [p.name for p in spec.params if p.is_option]
        if spec.mutating:
            flags += ["--yes", "--dry-run"] + ([] if spec.waits else ["--no-wait"])
        options[spec.name] = " ".join([*flags, "--help"])
        for p in spec.params:
            if p.is_option and p.kind != "flag":
                what = " ".join(p.choices) if p.choices else _cached(spec, p.kind, p.metavar)
                values[f"{spec.name} {p.name}"] = "@file" if p.metavar == "FILE" else what
        positionals[spec.name] = "|".join(" ".join(p.choices) if p.choices else _cached(spec, p.kind, p.metavar)
                                          for p in spec.params if not p.is_option)
    return Tables({k: " ".join(v) for k, v in tree.items()}, options, values, positionals)


def _quote(text: str) -> str:
    """Single quotes, as all three shells read them (a `'` inside cannot happen: registry words)."""
    if "'" in text:
        raise ValueError(f"completion: a quote in {text!r}")
    return f"'{text}'"


def _assoc(name: str, table: Mapping[str, str]) -> str:
    """A bash/zsh associative array literal."""
    body = "\n".join(f"  [{_quote(k)}]={_quote(v)}" for k, v in sorted(table.items()))
    return f"typeset -gA {name}\n{name}=(\n{body}\n)"


def _switch(name: str, table: Mapping[str, str]) -> str:
    """A fish function that prints the value for its key, failing for an unknown key."""
    cases = "\n".join(f"        case {_quote(k)}\n            echo {_quote(v)}" for k, v in sorted(table.items()))
    return (f"function {name}\n    switch $argv[1]\n{cases}\n        case '*'\n            return 1\n"
            f"    end\nend")


def script(shell: str, specs: Sequence[CommandSpec]) -> str:
    """The completion script for a shell (bash, zsh, fish)."""
    t = tables(specs)
    install = dict(INSTALL)[shell]
    head = (f"# {shell} completion for cockpit, generated from its command registry by "
            f"`cockpit completion {shell}`.\n# Install: {install}\n# Run that again after upgrading cockpit.\n")
    if shell == "fish":
        data = "\n\n".join([_switch("__cockpit_tree", t.tree), _switch("__cockpit_opts", t.options),
                            _switch("__cockpit_vals", t.values), _switch("__cockpit_pos", t.positionals)])
    else:
        data = "\n".join([_assoc("_cockpit_tree", t.tree), _assoc("_cockpit_opts", t.options),
                          _assoc("_cockpit_vals", t.values), _assoc("_cockpit_pos", t.positionals)])
    body = {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell].lstrip("\n")
    if body.startswith("#compdef"):  # zsh reads it on the first line only
        first, _, body = body.partition("\n")
        head = f"{first}\n{head}"
    text = body.replace("@@DATA@@", data).replace("@@FIRST@@", BEFORE_COMMAND).replace("@@AFTER@@", AFTER_COMMAND)
    return head + text


def print_script(words: Sequence[str], specs: Sequence[CommandSpec], out: IO[str], err: IO[str]) -> int:
    """`cockpit completion SHELL`."""
    if len(words) != 1 or words[0] not in SHELLS:
        said = for_display(" ".join(words)[:80]) if words else "nothing"
        err.write(f"cockpit: completion: expected one of {', '.join(SHELLS)}, got {said!r} "
                  "(see cockpit completion --help)\n")
        return 2
    out.write(script(words[0], specs))
    return 0
