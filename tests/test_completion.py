"""Shell completion: the scripts `cockpit completion bash|zsh|fish` print, run in the real shells
(zsh and fish only where installed), completing from the registry and from the names a real
`cockpit --demo vm list` left in the state directory; and the cache keeps only safe names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit import cli_help, completion
from cockpit.commands import build_registry
from cockpit.commands.registry import Outcome, Result, Table
from tests.conftest import ROOT


def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}


def cockpit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True,
                          env=env(tmp_path), cwd=tmp_path, timeout=120)


def generated(tmp_path: Path, shell: str) -> Path:
    r = cockpit(tmp_path, "completion", shell)
    assert r.returncode == 0 and not r.stderr
    path = tmp_path / f"cockpit.{shell}"
    path.write_text(r.stdout)
    return path


def cache(tmp_path: Path, demo: bool = False, **files: list[str]) -> None:
    d = completion.cache_dir(demo, tmp_path / "state" / "cockpit")
    d.mkdir(parents=True, exist_ok=True)
    for name, names in files.items():
        (d / name).write_text("".join(f"{n}\n" for n in names))


def bash(tmp_path: Path, line: str) -> list[str]:
    """What bash's TAB offers at the end of LINE, through the script's own `_cockpit`."""
    script = generated(tmp_path, "bash")
    code = (f'source {script}\nread -ra COMP_WORDS <<< "$LINE"\n[[ $LINE == *" " ]] && COMP_WORDS+=("")\n'
            'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n_cockpit\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], capture_output=True, text=True,
                       env={**env(tmp_path), "LINE": line}, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completes_words_then_options_then_values(tmp_path: Path) -> None:
    assert bash(tmp_path, "cockpit vm st") == ["start", "stop"]
    first = bash(tmp_path, "cockpit ")
    assert {"vm", "node", "deploy", "isvc", "model", "rollout", "op", "cost", "metrics", "sources", "help",
            "completion"} <= set(first)
    assert bash(tmp_path, "cockpit cost by ") == ["deployment", "namespace", "provider", "region", "source"]
    assert bash(tmp_path, "cockpit vm start --") == ["--yes", "--dry-run", "--no-wait", "--help", "--output", "--demo",
                                                     "--read-only", "--config"]
    assert bash(tmp_path, "cockpit vm list --st") == ["--state"]
    assert "stopped" in bash(tmp_path, "cockpit vm list --state ")
    assert bash(tmp_path, "cockpit vm list -o json --state ru") == ["running"]  # -o's value is skipped
    assert bash(tmp_path, "cockpit -o ") == ["text", "json"]
    assert bash(tmp_path, "cockpit cost spend --by ") == ["source", "service", "day"]
    assert bash(tmp_path, "cockpit help vm t") == ["templates", "terminate"]
    assert bash(tmp_path, "cockpit completion ") == ["bash", "zsh", "fish"]
    assert bash(tmp_path, "cockpit cost catalogue ") == ["refresh"]


def test_bash_completes_targets_from_the_cache_only(tmp_path: Path) -> None:
    assert bash(tmp_path, "cockpit vm start ") == []  # nothing cached yet, and no backend is asked
    cache(tmp_path, machines=["aws/h100-dev", "aws/bastion", "rack-a/a100-node-03"], sources=["aws", "rack-a"],
          deployments=["gpu-prod/inference/llama-70b"], isvcs=["gpu-prod/inference/mistral-7b"],
          models=["registry/llama-70b-chat"])
    assert bash(tmp_path, "cockpit vm start aws/") == ["aws/h100-dev", "aws/bastion"]
    assert bash(tmp_path, "cockpit vm list --source ") == ["aws", "rack-a"]
    assert bash(tmp_path, "cockpit deploy scale gpu") == ["gpu-prod/inference/llama-70b"]
    assert bash(tmp_path, "cockpit deploy scale gpu-prod/inference/llama-70b ") == []  # N: nothing to offer
    assert bash(tmp_path, "cockpit isvc canary ") == ["gpu-prod/inference/mistral-7b"]
    assert bash(tmp_path, "cockpit model deploy registry/llama-70b-chat --to ") == [
        "gpu-prod/inference/llama-70b", "gpu-prod/inference/mistral-7b"]
    assert bash(tmp_path, "cockpit vm provision ") == []  # a new machine's place, not an existing machine
    assert bash(tmp_path, "cockpit --demo vm start ") == []  # the demo's names are its own


def test_a_demo_listing_feeds_the_demo_completion(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "--demo", "vm", "list", "--source", "rack-a")
    assert r.returncode == 0, r.stderr
    offered = bash(tmp_path, "cockpit --demo vm start rack-a/a100")
    assert offered == ["rack-a/a100-node-01", "rack-a/a100-node-02", "rack-a/a100-node-03"]
    assert bash(tmp_path, "cockpit --demo audit --source ") == ["rack-a"]
    assert bash(tmp_path, "cockpit vm start rack-a/") == []  # not the real fleet's


def test_remember_keeps_safe_names_and_merges_filtered_listings(tmp_path: Path) -> None:
    d = tmp_path / "c"

    def listing(*names: str, status: str = "ok") -> Result:
        return Result("vm list", "vm list", status, 0, Outcome(table=Table(("MACHINE",), tuple((n,) for n in names))))

    completion.remember("vm list", {"source": None}, listing("aws/a", "aws/$(touch x)", "aws/\x1b[31mred",
                                                              "gcp/b", "aws/with space"), d)
    assert (d / "machines").read_text() == "aws/a\ngcp/b\n"
    assert (d / "sources").read_text() == "aws\ngcp\n"
    assert oct((d / "machines").stat().st_mode & 0o777) == "0o600"
    completion.remember("vm list", {"source": "aws"}, listing("aws/c"), d)  # a filtered listing adds
    assert (d / "machines").read_text() == "aws/a\naws/c\ngcp/b\n"
    completion.remember("vm list", {"source": None}, listing("aws/c", status="failed"), d)  # a failed source: adds
    assert (d / "machines").read_text() == "aws/a\naws/c\ngcp/b\n"
    completion.remember("vm list", {"source": None}, listing("aws/c"), d)  # a whole, clean listing replaces
    assert (d / "machines").read_text() == "aws/c\n"
    completion.remember("vm show", {}, listing("aws/zzz"), d)  # not a listing: nothing kept
    assert not (d / "vm show").exists() and "aws/zzz" not in (d / "machines").read_text()


def test_completion_script_for_a_bad_shell_is_bad_input(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "completion", "tcsh")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("cockpit: completion: expected one of bash, zsh, fish, got 'tcsh' "
                        "(see cockpit completion --help)\n")


def test_completion_help_says_how_to_install(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "completion", "--help")
    assert r.returncode == 0
    for shell, line in cli_help.INSTALL:
        assert f"  {shell}: {line}" in r.stdout.splitlines()


def test_scripts_carry_every_command_of_the_registry() -> None:
    specs = cli_help.all_specs(build_registry())
    t = completion.tables(specs)
    assert set(t.options) == {s.name for s in specs}
    for shell in cli_help.SHELLS:
        text = completion.script(shell, specs)
        assert "@@" not in text and "vm provision" in text and "--accelerator" in text


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_registers_and_completes(tmp_path: Path) -> None:
    script = generated(tmp_path, "zsh")
    assert script.read_text().startswith("#compdef cockpit\n")
    cache(tmp_path, nodes=["gpu-prod/l4-01", "gpu-prod/l4-02", "gpu-eu/l40s-01"])
    code = (f"source {script}\nprint -r -- comps=$_comps[cockpit]\n"
            "__cockpit_candidates cockpit vm st\n__cockpit_candidates cockpit node cordon gpu-prod/\n"
            "__cockpit_candidates cockpit -o json node drain gpu-prod/l4-01 --f\n")
    r = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, env=env(tmp_path), timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert r.stdout.splitlines() == ["comps=_cockpit", "start", "stop", "gpu-prod/l4-01", "gpu-prod/l4-02",
                                     "--force"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_through_its_own_machinery(tmp_path: Path) -> None:
    script = generated(tmp_path, "fish")
    cache(tmp_path, models=["registry/bge-large", "registry/llama-70b-chat"])
    code = (f"source {script}\ncomplete -C'cockpit vm st'\ncomplete -C'cockpit model show registry/l'\n"
            "complete -C'cockpit help isvc '\n")
    r = subprocess.run(["fish", "--no-config", "-c", code], capture_output=True, text=True, env=env(tmp_path),
                       timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert r.stdout.splitlines() == ["start", "stop", "registry/llama-70b-chat", "canary", "list", "promote",
                                     "rollback"]
