"""Help for people at a shell: `cockpit help`, `cockpit help vm start`, `cockpit vm start --help`.

Everything here is derived from the one command registry (usage, arguments, options, whether a
command changes state, its examples), so the help, the shell completion (cockpit.completion) and
the generated reference (docs/commands.md, cockpit.docgen) cannot disagree with what the parser
accepts. Text only, no Textual, no backend: help works with a broken config and no network.
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from cockpit.commands.builtin import EXIT_CODES, who_can
from cockpit.commands.registry import CommandSpec, Param, Plan, Registry
from cockpit.contracts import BadInput
from cockpit.sanitise import for_display

WIDTH = 80
"""Help is wrapped for the bastion's 80 columns, whatever the terminal says (and so the same in tests)."""

GROUPS: tuple[tuple[str, str], ...] = (
    ("vm", "Machines: libvirt VMs and cloud instances"),
    ("gpu", "Host GPUs"),
    ("node", "Kubernetes nodes"),
    ("deploy", "Kubernetes Deployments"),
    ("hpa", "Horizontal Pod Autoscalers"),
    ("isvc", "KServe InferenceServices"),
    ("model", "Model registry (MLflow)"),
    ("rollout", "Guarded rollouts of a model version"),
    ("op", "Operations: changes and their progress"),
    ("cost", "Costs: burn rate, prices, spend, idle GPUs"),
    ("metrics", "Metrics: Prometheus and this machine"),
    ("", "Cockpit itself"),
)
"""Group word -> title, in the order `cockpit help` lists them; a command of one word belongs to
the last group; a new group word not named here is listed after these under its own word."""

SHELLS = ("bash", "zsh", "fish")

INSTALL: tuple[tuple[str, str], ...] = (
    ("bash", "cockpit completion bash > ~/.local/share/bash-completion/completions/cockpit"),
    ("zsh", "cockpit completion zsh > ~/.zsh_cockpit && echo 'source ~/.zsh_cockpit' >> ~/.zshrc"),
    ("fish", "cockpit completion fish > ~/.config/fish/completions/cockpit.fish"),
)
"""One command per shell that installs the completion; run it again after upgrading cockpit (the
script carries the command words and options of the version that wrote it)."""

LINE_FLAGS: tuple[tuple[str, str], ...] = (
    ("--yes", "make the change (a script line or `cockpit COMMAND` never changes anything without it)"),
    ("--dry-run", "print the plan (what would change, from what to what); change nothing"),
    ("--no-wait", "return once the change is applied, without following it (see op list, op wait)"),
)
"""Flags every line takes (cockpit.commands.registry.GLOBAL_FLAGS), listed for commands that change state."""


def _cli_only(_ctx: object, _args: Mapping[str, Any]) -> Plan:
    raise BadInput("completion: run it from a shell: cockpit completion bash|zsh|fish")


COMPLETION = CommandSpec(
    ("completion",), "print the shell completion script for bash, zsh or fish", _cli_only,
    (Param("shell", "the shell: bash, zsh or fish", kind="choice", choices=SHELLS, required=True, metavar="SHELL"),),
    examples=("completion bash",))
"""A command of the `cockpit` program only (it prints a script, needs no config, no source), so it
is not in the registry that the UI's palette lists; help, docs and completion show it beside the rest."""

NOTES: dict[str, tuple[str, ...]] = {
    "completion": (
        "Completes command words, then options, then targets (machines, nodes, deployments, models, "
        "sources) from the names the last `cockpit ... list` runs saw, kept in the state directory "
        "($XDG_STATE_HOME/cockpit/completion/): a TAB never asks a backend.",
        "Install (one command per shell; run it again after upgrading cockpit):",
        *(f"  {shell}: {line}" for shell, line in INSTALL),
    ),
}
"""More text under a command's help, by command name."""


@dataclass(frozen=True, slots=True)
class ParamDoc:
    """One argument or option as help shows it: `SOURCE/NAME`, `--timeout DURATION`."""

    label: str
    help: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class CommandDoc:
    """What a person needs to know of one command; text (here) and markdown (docgen) render it."""

    name: str
    usage: str
    summary: str
    arguments: tuple[ParamDoc, ...]
    options: tuple[ParamDoc, ...]
    mutating: bool
    runs_on: str
    examples: tuple[str, ...]
    subcommands: tuple[str, ...]
    notes: tuple[str, ...]


def all_specs(reg: Registry) -> list[CommandSpec]:
    """The registry's commands and the program's own (`completion`), by name."""
    return sorted([*reg.specs(), COMPLETION], key=lambda s: s.words)


def group_of(spec: CommandSpec) -> str:
    return spec.words[0] if len(spec.words) > 1 else ""


def grouped(specs: Sequence[CommandSpec]) -> list[tuple[str, str, list[CommandSpec]]]:
    """(group word, title, its commands) in the order help lists them; empty groups left out."""
    titles = dict(GROUPS)
    words = [w for w, _ in GROUPS if w] + sorted({group_of(s) for s in specs} - set(titles))
    out = []
    for word in [*words, ""]:
        members = [s for s in specs if group_of(s) == word]
        if members:
            out.append((word, titles.get(word, word), members))
    return out


def _label(p: Param) -> str:
    meta = p.metavar or p.key.upper()
    if not p.is_option:
        return meta
    return p.name if p.kind == "flag" else f"{p.name} {meta}"


def _note(p: Param) -> str:
    """The default, said once: the spec's own, else what the help text or the kind implies."""
    repeat = "repeatable" if p.repeat and "repeatable" not in p.help else ""
    choices = f"one of: {', '.join(p.choices)}" if p.choices and p.choices[0] not in p.help else ""
    if p.default:
        said = f"default: {p.default}"
    elif p.required:
        said = "required"
    elif "default" in p.help:
        said = ""
    elif p.kind == "flag":
        said = "default: off"
    elif p.help.startswith("only "):
        said = "default: all"
    else:
        said = "default: none"
    return "; ".join(x for x in (choices, said, repeat) if x)


def describe(spec: CommandSpec, specs: Sequence[CommandSpec] = ()) -> CommandDoc:
    args = tuple(ParamDoc(_label(p), p.help, "" if p.required else "optional")
                 for p in spec.params if not p.is_option)
    opts = [ParamDoc(_label(p), p.help, _note(p)) for p in spec.params if p.is_option]
    if spec.mutating:
        opts += [ParamDoc(flag, text) for flag, text in LINE_FLAGS if not (flag == "--no-wait" and spec.waits)]
    subs = tuple(s.name for s in specs if s.name.startswith(spec.name + " "))
    return CommandDoc(name=spec.name, usage=spec.usage(), summary=spec.summary, arguments=args, options=tuple(opts),
                      mutating=spec.mutating, runs_on=who_can(spec.capability) if spec.capability else "",
                      examples=spec.examples, subcommands=subs, notes=NOTES.get(spec.name, ()))


def lookup(specs: Sequence[CommandSpec], words: Sequence[str]) -> tuple[CommandSpec | None, list[CommandSpec]]:
    """The command the words name, or the commands they start (a group: `vm`; a prefix: `vm st`).
    Words that name neither are bad input, in one line with the nearest command."""
    wanted = " ".join(words)
    for s in specs:
        if s.name == wanted:
            return s, []
    matches = [s for s in specs if s.name.startswith(wanted + " ")] or [s for s in specs if s.name.startswith(wanted)]
    if wanted and matches:
        return None, matches
    names = [s.name for s in specs] + sorted({w for w, _ in GROUPS if w})
    nearest = difflib.get_close_matches(wanted, names, n=1, cutoff=0.0)
    hint = f" (nearest: {nearest[0]!r})" if nearest else ""
    raise BadInput(f"no command {wanted!r}{hint}; 'cockpit help' lists them all")


# -- text -------------------------------------------------------------------------------------------------
def _rows(items: Sequence[tuple[str, str]], indent: int = 2) -> list[str]:
    """Two columns, the second wrapped under itself."""
    if not items:
        return []
    col = min(max(len(a) for a, _ in items) + indent + 2, 30)
    out = []
    for left, right in items:
        head = " " * indent + left
        if len(head) + 2 > col:
            out.append(head)
            head = ""
        wrapped = textwrap.wrap(right, WIDTH - col, break_on_hyphens=False) or [""]
        out.append(head.ljust(col) + wrapped[0])
        out += [" " * col + w for w in wrapped[1:]]
    return [line.rstrip() for line in out]


def _para(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False) or [""]


def _with_note(p: ParamDoc) -> str:
    return f"{p.help} ({p.note})" if p.note else p.help


def command_text(doc: CommandDoc) -> str:
    """`cockpit vm start --help`: usage, what it does, arguments, options with defaults, whether
    it changes state (so needs --yes in a script), where it runs, examples."""
    lines = _para(f"Usage: cockpit {doc.usage}")
    lines += ["", *_para(doc.summary[:1].upper() + doc.summary[1:] + ".", "  ")]
    if doc.arguments:
        lines += ["", "Arguments:", *_rows([(a.label, _with_note(a)) for a in doc.arguments])]
    lines += ["", "Options:", *_rows([(o.label, _with_note(o)) for o in doc.options]
                                     + [("--help", "show this help")])]
    lines += [""]
    if doc.mutating:
        lines += _para("Changes state: yes. From a script or the shell it runs only with --yes (--dry-run shows "
                       "the plan); the UI asks first. Each change is written to the audit log before it is made.")
    else:
        lines += ["Changes state: no (a read; safe to run any time)."]
    if doc.runs_on:
        lines += _para(f"Runs {doc.runs_on}.")
    if doc.subcommands:
        lines += _para(f"See also: {', '.join(doc.subcommands)}.")
    for note in doc.notes:
        lines += ["", *_para(note)] if not note.startswith("  ") else [note]
    lines += ["", "Example" + ("s:" if len(doc.examples) > 1 else ":")]
    lines += [f"  cockpit {e}" for e in doc.examples] or ["  (none)"]
    return "\n".join(lines) + "\n"


def listing(groups: Sequence[tuple[str, str, list[CommandSpec]]]) -> list[str]:
    """Each group's title, then one line per command: its name, `*` when it changes state, and its
    summary cut to the line (`cockpit help COMMAND` has the whole)."""
    lines: list[str] = []
    for _word, title, members in groups:
        lines += ["", title]
        width = max(len(s.name) for s in members) + 2
        for s in members:
            line = f"  {s.name.ljust(width)}{'*' if s.mutating else ' '} {s.summary}"
            lines.append(line if len(line) <= WIDTH else line[:WIDTH - 1].rstrip() + "…")
    return lines


def overview(specs: Sequence[CommandSpec]) -> str:
    """`cockpit help`: every command by group, one line each, and where to read more."""
    lines = ["Usage: cockpit [OPTIONS] [COMMAND [ARGS...]]",
             *_para("With no COMMAND the UI starts. A COMMAND runs headless, like one line of a --script; "
                    "options go anywhere on the line (cockpit vm list -o json).")]
    lines += ["", "Commands (see 'cockpit help COMMAND' or 'cockpit COMMAND --help'):"]
    lines += listing(grouped(specs))
    lines += ["", *_para("* changes state: from a script or the shell it runs only with --yes; --dry-run "
                         "shows its plan. Shell completion: cockpit completion --help.")]
    lines += _para(EXIT_CODES.split(" With -o json")[0])
    return "\n".join(lines) + "\n"


def help_text(specs: Sequence[CommandSpec], words: Sequence[str]) -> str:
    """`cockpit help [WORDS]`: all commands, one command, or the commands the words start."""
    if not words:
        return overview(specs)
    spec, matches = lookup(specs, words)
    if spec is not None:
        return command_text(describe(spec, specs))
    lines = listing(grouped(matches))[1:]
    return "\n".join([*lines, "", "* changes state. 'cockpit help COMMAND' describes one."]) + "\n"


def strip_help_flag(words: Sequence[str]) -> list[str] | None:
    """The command words of `cockpit vm start --help` (`-h` too), or None when there is no help flag.
    Words after the command's own are dropped: `vm start aws/x --help` is help for `vm start`."""
    if "--help" not in words and "-h" not in words:
        return None
    bare = [w for w in words if w not in ("--help", "-h")]
    return [w for w in bare if not w.startswith("-")]


def command_words(specs: Sequence[CommandSpec], words: Sequence[str]) -> list[str]:
    """The longest run of leading words that names a command (`vm start aws/x --help` -> vm start);
    else the first two (`vm --help` is the group, `vm strat --help` an unknown command, said so)."""
    names = {s.name for s in specs}
    for n in range(min(3, len(words)), 0, -1):
        if " ".join(words[:n]) in names:
            return list(words[:n])
    return list(words[:2])


def program_help(parser_help: str, reg: Registry) -> str:
    """`cockpit --help`: the program's own options (argparse's text), then every command by group."""
    commands = listing(grouped(all_specs(reg)))
    tail = _para("* changes state: from a script or the shell it runs only with --yes; --dry-run shows its "
                 "plan. 'cockpit help COMMAND' or 'cockpit COMMAND --help' describes one.")
    return parser_help.rstrip("\n") + "\n\nCommands:\n" + "\n".join([*commands, "", *tail]) + "\n"


def answer(command: Sequence[str], output: str, out: IO[str], err: IO[str]) -> tuple[int | None, list[str]]:
    """What `cockpit COMMAND` can answer before any config is read or any source built: help (text)
    and `completion SHELL`. Returns (exit code, command), the code None when the command is for the
    registry; `CMD --help -o json` becomes the registry's `help CMD` (its JSON records)."""
    from cockpit.commands import build_registry

    words = list(command)
    asked = strip_help_flag(words)
    if not words or (asked is None and words[0] not in ("help", "completion")):
        return None, words
    reg = build_registry()
    specs = all_specs(reg)
    if asked is not None:
        words = ["help", *command_words(specs, asked)] if asked and asked[0] != "help" else asked or ["help"]
    if words[0] == "completion":
        from cockpit import completion

        return completion.print_script(words[1:], specs, out, err), words
    if output == "json":
        return None, words
    try:
        out.write(help_text(specs, words[1:]))
    except BadInput as e:
        err.write(for_display(f"cockpit: {e}") + "\n")  # it quotes what was typed
        return e.exit_code, words
    return 0, words
