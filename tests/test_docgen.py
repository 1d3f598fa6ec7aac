"""docs/commands.md is the registry's own reference: it must be what `python -m cockpit.docgen` writes."""

from __future__ import annotations

import difflib
from pathlib import Path

from cockpit import cli_help, docgen
from cockpit.commands import build_registry


def test_committed_reference_is_current() -> None:
    want = docgen.current()
    have = docgen.DOC.read_text(encoding="utf-8") if docgen.DOC.exists() else ""
    if have != want:
        diff = "".join(list(difflib.unified_diff(have.splitlines(True), want.splitlines(True), "committed",
                                                 "generated"))[:40])
        raise AssertionError(f"docs/commands.md is stale: run `{docgen.REGENERATE}` and commit it\n{diff}")


def test_reference_has_every_command_its_usage_and_an_example() -> None:
    text = docgen.current()
    for spec in cli_help.all_specs(build_registry()):
        section = text.split(f"### `{spec.name}`\n", 1)[1].split("\n### ", 1)[0]
        assert f"cockpit {spec.usage()}" in section
        assert spec.examples and f"cockpit {spec.examples[0]}" in section
        assert ("**Changes state**" in section) == spec.mutating
    for shell, line in cli_help.INSTALL:
        assert f"- {shell}: `{line}`" in text.split("## Contents")[0]  # in the header, before the commands


def test_check_mode_fails_on_a_stale_file(tmp_path: Path, capsys: object) -> None:
    path = tmp_path / "commands.md"
    assert docgen.main([str(path)]) == 0
    assert docgen.main(["--check", str(path)]) == 0
    path.write_text(path.read_text().replace("vm start", "vm begin"))
    assert docgen.main(["--check", str(path)]) == 1
