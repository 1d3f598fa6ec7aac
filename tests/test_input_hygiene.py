"""Bad input ends in one line that names the file and line, and exit code 2, never a traceback;
secrets never reach stderr; cockpit's own log is private. Real `cockpit` subprocesses throughout."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MINIMAL = 'local_machine = false\n[sources.lab]\nkind = "libvirt"\nuri = "test:///default"\n'


def cockpit(tmp_path: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, input=stdin, env=env,
                       cwd=tmp_path, timeout=120)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(errors="replace"),
                                       r.stderr.decode(errors="replace"))


def config_file(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "config.toml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# -- config values are redacted in errors ------------------------------------------------------------
@pytest.mark.parametrize(("body", "key"), [
    ('[sources.m]\nkind = "mlflow"\ntracking_uri = ["https://alice:hunter2@mlflow.internal/"]\n',
     "sources.m.tracking_uri"),
    ('[sources.m]\nkind = "mlflow"\ntracking_uri = "https://mlflow"\n'
     'registry_uri = {url = "https://alice:hunter2@mlflow.internal/"}\n', "sources.m.registry_uri"),
    ('[sources.k]\nkind = "kubernetes"\nkubeconfig = ["https://alice:hunter2@k8s.internal/"]\n',
     "sources.k.kubeconfig"),
    ('[sources.k]\nkind = "kubernetes"\ncontexts = ["https://alice:hunter2@k8s.internal/' + "x" * 260 + '"]\n',
     "sources.k.contexts"),
    ('[sources.p]\nkind = "prometheus"\nurl = "https://prom"\nusername = "alice"\npassword = 12345678\n',
     "sources.p.password"),
    ('[sources.p]\nkind = "prometheus"\nurl = "https://prom"\ncolour = "https://alice:hunter2@prom/"\n',
     "sources.p.colour"),
])
def test_config_errors_never_echo_a_password(tmp_path: Path, body: str, key: str) -> None:
    p = config_file(tmp_path, body)
    line = one_line_error(cockpit(tmp_path, "--config", str(p), "sources"))
    assert line.startswith(f"cockpit: {p}:")
    assert key in line
    assert "hunter2" not in line and "12345678" not in line


# -- config files that used to crash --------------------------------------------------------------------
def test_config_not_utf8_names_the_line(tmp_path: Path) -> None:
    p = config_file(tmp_path, b'[ui]\ntheme = "dark"\n# caf\xe9 au lait\n')
    assert one_line_error(cockpit(tmp_path, "--config", str(p), "sources")) == \
        f"cockpit: {p}:3: not UTF-8 text (byte 0xe9 at column 6)"


@pytest.mark.parametrize(("text", "line"), [
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", 1),
    ("x = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n", 1),
    ('[ui]\ntheme = "dark"\n[sources.k]\nkind = "kubernetes"\ncontexts = ' + "[" * 500 + "]" * 500 + "\n", 5),
])
def test_config_nested_too_deep(tmp_path: Path, text: str, line: int) -> None:
    p = config_file(tmp_path, text)
    assert one_line_error(cockpit(tmp_path, "--config", str(p), "sources")) == \
        f"cockpit: {p}:{line}: TOML: arrays or inline tables nested too deep"


@pytest.mark.parametrize("kubeconfig", ["- a\n- b\n", "just a string\n", "contexts: 5\n", "contexts: [1, [2]]\n",
                                        "a: b: c\ntoken: s3cret\n", b"\xff\xfe\n"])
def test_kubeconfig_that_is_not_a_mapping(tmp_path: Path, kubeconfig: str | bytes) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_bytes(kubeconfig if isinstance(kubeconfig, bytes) else kubeconfig.encode())
    p = config_file(tmp_path, f'[sources.k]\nkind = "kubernetes"\nkubeconfig = "{kc}"\ncontexts = "all"\n')
    line = one_line_error(cockpit(tmp_path, "--config", str(p), "sources"))
    assert line.startswith(f'cockpit: {p}:4: contexts = "all": ')
    assert str(kc) in line and "s3cret" not in line


# -- script line numbers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("odd", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"])
def test_script_lines_are_counted_at_newlines_only(tmp_path: Path, odd: str) -> None:
    config = config_file(tmp_path, MINIMAL)
    script = tmp_path / "ops.cockpit"
    script.write_text(f"vm list\nfoo{odd}bar\nbaz\n", encoding="utf-8")
    r = cockpit(tmp_path, "--config", str(config), "--script", str(script))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = r.stderr.splitlines()
    assert [e.split(": ", 1)[0] for e in errors] == [f"{script}:2", f"{script}:3", str(script)]
    assert errors[-1] == f"{script}: 2 bad line(s); nothing was run"


def test_crlf_script_keeps_its_line_numbers(tmp_path: Path) -> None:
    config = config_file(tmp_path, MINIMAL)
    script = tmp_path / "ops.cockpit"
    script.write_bytes(b"# windows\r\nvm list\r\n\r\nnope\r\n")
    r = cockpit(tmp_path, "--config", str(config), "--script", str(script))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"{script}:4: unknown command 'nope' (try 'help')",
                                     f"{script}: 1 bad line(s); nothing was run"]


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path: Path) -> None:
    """Windows editors start UTF-8 files with a BOM; it must not glue itself to the first command or key."""
    config = tmp_path / "bom.toml"
    config.write_bytes("\ufeff".encode() + config_file(tmp_path, MINIMAL).read_bytes())
    script = tmp_path / "ops.cockpit"
    script.write_bytes("\ufeffvm list\nnope\n".encode())
    r = cockpit(tmp_path, "--config", str(config), "--script", str(script))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"{script}:2: unknown command 'nope' (try 'help')",
                                     f"{script}: 1 bad line(s); nothing was run"]


def test_script_not_utf8_names_the_line(tmp_path: Path) -> None:
    config = config_file(tmp_path, MINIMAL)
    script = tmp_path / "ops.cockpit"
    script.write_bytes(b"vm list\n\nvm show lab/\xff\n")
    r = cockpit(tmp_path, "--config", str(config), "--script", str(script))
    assert one_line_error(r) == f"cockpit: {script}:3: not UTF-8 text (byte 0xff at column 13)"
    r = cockpit(tmp_path, "--config", str(config), "--script", "-", stdin=b"vm list\n\xc3\n")
    assert one_line_error(r) == "cockpit: <stdin>:2: not UTF-8 text (byte 0xc3 at column 1)"


# -- help --------------------------------------------------------------------------------------------------
def test_help_for_an_unknown_command_is_bad_input(tmp_path: Path) -> None:
    config = config_file(tmp_path, MINIMAL)
    r = cockpit(tmp_path, "--config", str(config), "help", "nosuchthing")
    assert one_line_error(r).startswith("cockpit: no command 'nosuchthing' (nearest: ")
    assert r.stdout == ""
    r = cockpit(tmp_path, "--config", str(config), "help", "vm", "list")
    assert r.returncode == 0 and r.stdout.startswith("Usage: cockpit vm list")


# -- cockpit.log ---------------------------------------------------------------------------------------------
def test_log_file_is_private(tmp_path: Path) -> None:
    config = config_file(tmp_path, MINIMAL)
    log = tmp_path / "state" / "cockpit" / "cockpit.log"
    cockpit(tmp_path, "--config", str(config), "sources")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    log.chmod(0o644)  # one from an older cockpit: ours, a regular file, so it is tightened
    cockpit(tmp_path, "--config", str(config), "sources")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_log_symlink_target_is_not_chmodded(tmp_path: Path) -> None:
    config = config_file(tmp_path, MINIMAL)
    target = tmp_path / "elsewhere.log"
    target.write_text("")
    target.chmod(0o644)
    log = tmp_path / "state" / "cockpit" / "cockpit.log"
    log.parent.mkdir(parents=True)
    os.symlink(target, log)
    r = cockpit(tmp_path, "--config", str(config), "sources")
    assert "Traceback" not in r.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
