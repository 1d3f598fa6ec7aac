"""`cockpit help`, `cockpit help CMD`, `cockpit CMD --help`, `cockpit --help`: real subprocesses,
with no config file at all (help must work before any config or source), and the examples of every
command parsed against the demo's configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit import cli_help
from cockpit.commands import build_registry
from cockpit.commands.registry import Registry
from cockpit.contracts import BadInput
from cockpit.hub import Hub
from tests.conftest import ROOT
from tests.test_import_hygiene import modules_after


def cockpit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


def test_command_help_two_ways_say_the_same(tmp_path: Path) -> None:
    flag = cockpit(tmp_path, "vm", "start", "--help")
    word = cockpit(tmp_path, "help", "vm", "start")
    assert flag.returncode == word.returncode == 0 and not flag.stderr and not word.stderr
    assert flag.stdout == word.stdout
    lines = flag.stdout.splitlines()
    assert lines[0] == "Usage: cockpit vm start SOURCE/NAME"
    assert "  Start a machine." in lines
    assert lines[lines.index("Arguments:") + 1].split() == ["SOURCE/NAME", "the", "machine,", "as", "SOURCE/NAME"]
    options = [line.split()[0] for line in lines[lines.index("Options:") + 1:] if line.startswith("  --")]
    assert options == ["--yes", "--dry-run", "--no-wait", "--help"]
    assert any(line.startswith("Changes state: yes. From a script or the shell it runs only with --yes")
               for line in lines)
    assert "Runs on libvirt, aws, gcp, azure sources." in lines
    assert lines[-2:] == ["Example:", "  cockpit vm start aws/h100-dev --yes"]
    # the same with words after the command (a target, an option): still that command's help
    assert cockpit(tmp_path, "vm", "start", "aws/x", "-h").stdout == flag.stdout


def test_options_show_their_defaults(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "help", "vm", "list")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--source SOURCE only this source (default: all)" in text
    assert "--state STATE only machines in this state (one of: running, stopped," in text
    assert "Changes state: no" in text and "--yes" not in text  # a read takes no confirmation
    r = cockpit(tmp_path, "audit", "--help")
    assert "--limit N how many entries (default 50)" in " ".join(r.stdout.split())
    r = cockpit(tmp_path, "node", "drain", "--help")
    assert "--force" in r.stdout and "(default: off)" in r.stdout


def test_help_lists_every_command_by_group_one_line_each(tmp_path: Path, registry: Registry) -> None:
    r = cockpit(tmp_path, "help")
    assert r.returncode == 0 and not r.stderr
    lines = r.stdout.splitlines()
    titles = [t for _w, t in cli_help.GROUPS]
    at = [lines.index(t) for t in titles]
    assert at == sorted(at)  # vm, gpu, node, deploy, hpa, isvc, model, rollout, op, cost, metrics, cockpit itself
    names = [s.name for s in cli_help.all_specs(registry)]
    listed = [line.split("  ")[1].strip() for line in lines if line.startswith("  ") and "  " in line[2:]]
    listed = [n for n in listed if n in names]
    assert sorted(listed) == sorted(names)  # each command once, on its own line
    assert all(len(line) <= cli_help.WIDTH for line in lines)
    start = next(line for line in lines if line.startswith("  vm start "))
    assert start.split() == ["vm", "start", "*", "start", "a", "machine"]  # * : it changes state
    assert "  vm list         list machines on every machines source" in lines
    assert "  completion" in r.stdout  # the program's own command is listed with the rest


def test_program_help_lists_options_then_commands(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "--help")
    assert r.returncode == 0 and not r.stderr
    head, _, commands = r.stdout.partition("\nCommands:\n")
    assert "--demo" in head and "--script FILE" in head
    assert "\nKubernetes nodes\n" in commands
    assert any(line.split()[:4] == ["node", "drain", "*", "cordon"] for line in commands.splitlines())
    assert cockpit(tmp_path, "--demo", "-h").stdout == r.stdout


def test_unknown_command_is_one_line_with_the_nearest(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "help", "nosuch")
    assert r.returncode == 2 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("cockpit: no command 'nosuch' (nearest: '") and line.endswith("lists them all")
    r = cockpit(tmp_path, "vm", "strat", "--help")
    assert r.returncode == 2
    assert r.stderr == "cockpit: no command 'vm strat' (nearest: 'vm start'); 'cockpit help' lists them all\n"
    r = cockpit(tmp_path, "help", "modle", "list")
    assert r.returncode == 2 and "(nearest: 'model list')" in r.stderr


def test_a_group_or_prefix_lists_its_commands(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "vm", "--help")
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == "Machines: libvirt VMs and cloud instances"
    r = cockpit(tmp_path, "help", "vm", "st")
    assert [line.split()[:2] for line in r.stdout.splitlines()[1:3]] == [["vm", "start"], ["vm", "stop"]]


def test_help_as_json_goes_through_the_registry(tmp_path: Path) -> None:
    r = cockpit(tmp_path, "-o", "json", "vm", "start", "--help")
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    (entry,) = rec["data"]
    assert entry["command"] == "vm start" and entry["mutating"] is True
    assert entry["examples"] == ["vm start aws/h100-dev --yes"]


def test_script_mode_help_is_the_same_text(tmp_path: Path) -> None:
    script = tmp_path / "s.cockpit"
    script.write_text("help deploy scale\n")
    r = cockpit(tmp_path, "--script", str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout == cockpit(tmp_path, "deploy", "scale", "--help").stdout


@pytest.mark.parametrize("argv", [["help"], ["vm", "start", "--help"], ["--help"], ["completion", "zsh"]])
def test_help_never_loads_textual_or_a_config(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "cockpit").mkdir()
    (tmp_path / "cockpit" / "config.toml").write_text("this is not toml [\n")  # help must not read it
    code = f"from cockpit.cli import main\nrc = main({argv!r})\nassert rc == 0, rc"
    mods = modules_after(code, tmp_path)
    assert "textual" not in mods and "rich" not in mods
    assert not any(m.startswith(("libvirt", "boto3", "kubernetes", "mlflow", "google.cloud", "azure")) for m in mods)


# -- examples -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_hub() -> Iterator[Hub]:
    """The demo's configuration; its emulators are lazy and parsing reads the config alone."""
    from cockpit.sandbox import LazyCluster, LazyRegistry, demo_config
    from cockpit.sandbox.aws import LazyAws
    from cockpit.sandbox.azure import LazyAzure
    from cockpit.sandbox.gcp import LazyGce
    from cockpit.sandbox.prom import LazyPrometheus

    config = demo_config(kube=LazyCluster(), kube_edge=LazyCluster("edge"), registry=LazyRegistry(),
                         prometheus=LazyPrometheus(), aws=LazyAws(), gcp=LazyGce(), azure=LazyAzure())
    hub = Hub(config)
    yield hub
    hub.close()


def test_every_command_has_an_example_that_parses_against_the_demo(registry: Registry, demo_hub: Hub) -> None:
    missing = [s.name for s in registry.specs() if not s.examples]
    assert not missing, f"add an example to cockpit/commands/examples.py for: {', '.join(missing)}"
    bad = []
    for spec in registry.specs():
        for line in spec.examples:
            try:
                inv = registry.parse(line, demo_hub)
            except BadInput as e:
                bad.append(f"{line}: {e}")
                continue
            if inv.spec.name != spec.name:
                bad.append(f"{line}: parses as {inv.spec.name}")
            elif spec.mutating and not (inv.yes or inv.dry_run):
                bad.append(f"{line}: a change without --yes or --dry-run (a script would refuse it)")
    assert not bad, "\n".join(bad)


def test_lookup_names_the_nearest_command(registry: Registry) -> None:
    specs = cli_help.all_specs(registry)
    with pytest.raises(BadInput, match=r"no command 'deploy scael' \(nearest: 'deploy scale'\)"):
        cli_help.lookup(specs, ["deploy", "scael"])
    spec, matches = cli_help.lookup(specs, ["cost", "catalogue"])
    assert spec is not None and spec.name == "cost catalogue" and not matches
    doc = cli_help.describe(spec, specs)
    assert doc.subcommands == ("cost catalogue refresh",)  # named in its help as "See also"
