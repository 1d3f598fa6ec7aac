"""docs/commands.md, generated from the one command registry: `python -m cockpit.docgen`.

The reference is what `cockpit help COMMAND` says (cockpit.cli_help), in markdown: each group,
each command's usage, arguments, options with defaults, whether it changes state, where it runs,
examples. A test (tests/test_docgen.py) fails when the committed file differs from this output,
so the reference cannot drift from the parser. `--check` does the same for CI.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from cockpit.cli_help import INSTALL, CommandDoc, ParamDoc, all_specs, describe, grouped
from cockpit.commands import build_registry
from cockpit.commands.builtin import EXIT_CODES
from cockpit.commands.registry import CommandSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "commands.md"
REGENERATE = "python -m cockpit.docgen"

HEADER = f"""\
# Command reference

<!-- Generated from the command registry by `{REGENERATE}`: edit the specs (cockpit/commands/),
     not this file; tests/test_docgen.py fails when the two differ. -->

Every command runs headless as `cockpit COMMAND ...`, as a line of a `cockpit --script FILE`, or
from the UI's `:` command line. Cockpit's own options go anywhere on the line
(`cockpit vm list -o json`). `cockpit help` lists the commands, `cockpit help COMMAND` or
`cockpit COMMAND --help` describes one.

A command marked **changes state** runs from a script or a shell only with `--yes`; `--dry-run`
prints its plan (what would change, from what to what) and changes nothing; the UI asks first.
Its intent is written to the audit log before the change is made.

## Shell completion

Completion for bash, zsh and fish is generated from the same registry: command words, options,
option values, and targets (machines, nodes, deployments, InferenceServices, models, sources) from
the names the last `cockpit ... list` runs saw, kept in `$XDG_STATE_HOME/cockpit/completion/`
(a TAB never asks a backend). Install it with one command, and again after upgrading cockpit:

{chr(10).join(f"- {shell}: `{line}`" for shell, line in INSTALL)}
"""


def _slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(head: str, items: Sequence[ParamDoc]) -> list[str]:
    rows = [f"| `{_cell(p.label)}` | {_cell(p.help)}{f' ({_cell(p.note)})' if p.note else ''} |" for p in items]
    return [f"| {head} | Meaning |", "| --- | --- |", *rows]


def command_md(doc: CommandDoc) -> list[str]:
    lines = [f"### `{doc.name}`", "", doc.summary[:1].upper() + doc.summary[1:] + ".", "",
             "```", f"cockpit {doc.usage}", "```", ""]
    if doc.arguments:
        lines += [*_table("Argument", doc.arguments), ""]
    if doc.options:
        lines += [*_table("Option", doc.options), ""]
    state = ("**Changes state**: runs from a script or a shell only with `--yes`." if doc.mutating
             else "Changes state: no (a read).")
    lines += [state + (f" Runs {doc.runs_on}." if doc.runs_on else ""), ""]
    if doc.subcommands:
        lines += ["See also: " + ", ".join(f"`{s}`" for s in doc.subcommands) + ".", ""]
    for note in doc.notes:
        lines += [note.strip() if not note.startswith("  ") else f"- {note.strip()}"]
    if doc.notes:
        lines += [""]
    lines += ["Example" + ("s:" if len(doc.examples) > 1 else ":"), "", "```",
              *(f"cockpit {e}" for e in doc.examples), "```", ""]
    return lines


def generate(specs: Sequence[CommandSpec]) -> str:
    groups = grouped(specs)
    lines = [HEADER, "## Contents", ""]
    lines += [f"- [{title}](#{_slug(title)}): " + ", ".join(f"`{s.name}`" for s in members)
              for _word, title, members in groups]
    for _word, title, members in groups:
        lines += ["", f"## {title}", ""]
        for s in members:
            lines += command_md(describe(s, specs))
    lines += ["## Exit codes", "", EXIT_CODES, ""]
    return "\n".join(lines).replace("\n\n\n", "\n\n").rstrip("\n") + "\n"


def current() -> str:
    """The reference as this checkout's registry says it should read."""
    return generate(all_specs(build_registry()))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m cockpit.docgen [--check] [PATH]`: write the reference, or (--check) exit 1 when
    the file there differs from what the registry says."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    path = Path(paths[0]) if paths else DOC
    text = current()
    if check:
        try:
            same = path.read_text(encoding="utf-8") == text
        except OSError:
            same = False
        if not same:
            print(f"{path} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
