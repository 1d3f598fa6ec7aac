"""Hostile strings from backends never reach a terminal raw: the sanitiser itself, the script
mode's text output and stderr (real subprocesses on a libvirt test-driver host whose names and
tags carry C1 and bidi controls, and a source whose error message carries ESC sequences), the
audit display, and the UI (notifications as plain text, the table, the detail pane, the status bar).
JSON output stays exact."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.content import Content
from textual.widgets import Static
from textual.widgets._toast import Toast

from cockpit.audit import AuditLog, make_entry
from cockpit.commands import Outcome, Result, Table
from cockpit.config import SourceConfig
from cockpit.sanitise import escapes, for_display, for_line, is_clean
from cockpit.script import ScriptOptions, _emit, render_table
from screens.safe import safe
from screens.widgets.bars import StatusBar
from screens.widgets.command_line import _first
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import ROOT
from tests.ui_helpers import loaded, make_app, wait_for

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;aGk=\x07"
CLEAR = "\x1b[2J"
C1_CLEAR = "\x9b2J"
RLO = "\u202e"
RAW = ("\x1b", "\x9b", "\u202e", "\x07")


def assert_no_raw(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"raw {ch!r} in {text!r}"


# -- the sanitiser -----------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    (OSC_TITLE, "\\x1b]0;pwned\\x07"),
    (OSC_CLIPBOARD, "\\x1b]52;c;aGk=\\x07"),
    (CLEAR, "\\x1b[2J"),
    (C1_CLEAR, "\\x9b2J"),
    (f"gpu-node-7{RLO}gnp.exe", "gpu-node-7\\u202egnp.exe"),
    ("\x00\x7f\x85\u061c\u200e\u200f\u202a\u2066\u2069\u2028\u2029", "\\x00\\x7f\\x85\\u061c\\u200e\\u200f"
                                                                    "\\u202a\\u2066\\u2069\\u2028\\u2029"),
    ("a\rb", "a\\rb"),
    ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    # invisible look-alikes: gpu-node-7 + a zero-width space is not gpu-node-7; a BOM, a soft hyphen,
    # a word joiner; tag characters (an ASCII string smuggled unseen)
    ("gpu-node-7\u200b", "gpu-node-7\\u200b"),
    ("\ufeffa\xadb\u2060c\u200d", "\\ufeffa\\xadb\\u2060c\\u200d"),
    ("ok\U000e0069\U000e0067", "ok\\U000e0069\\U000e0067"),
])
def test_controls_become_visible_escapes(raw: str, shown: str) -> None:
    assert for_display(raw) == shown
    assert for_line(raw) == shown
    assert_no_raw(for_display(raw))
    for_display(raw).encode("utf-8")  # nothing left that cannot be written


@pytest.mark.parametrize("text", ["", "rack-a/a100-node-01", "4×A100 SXM4 80GB", "naïve 日本語 ✓",
                                  "C:\\path\\x1b literally", "[a-z0-9] [/foo]"])
def test_plain_text_comes_back_unchanged(text: str) -> None:
    assert for_display(text) is text
    assert for_line(text) is text
    assert is_clean(text) and escapes(text) == []


def test_newline_and_tab_kept_for_display_escaped_for_one_line() -> None:
    assert for_display("line one\n\tline two") == "line one\n\tline two"
    assert for_line("line one\n\tline two") == "line one\\n\\tline two"
    assert not is_clean("a\nb")
    assert escapes(f"ok{CLEAR}\n") == [(2, "\\x1b")]
    assert escapes(f"ok{CLEAR}\n", line=True) == [(2, "\\x1b"), (6, "\\n")]


def test_idempotent() -> None:
    once = for_line(OSC_TITLE + RLO + C1_CLEAR + "\n")
    assert for_line(once) == once


def test_json_escapes_what_the_sanitiser_would() -> None:
    """JSON output is never sanitised: json.dumps (ensure_ascii) keeps it exact and free of raw controls."""
    value = OSC_TITLE + OSC_CLIPBOARD + CLEAR + C1_CLEAR + RLO
    dumped = json.dumps({"name": value}, separators=(",", ":"))
    assert_no_raw(dumped)
    assert json.loads(dumped)["name"] == value


# -- script mode, end to end -------------------------------------------------------------------

EVIL = "&#x9b;2J&#x202e;gnp.exe"  # XML 1.0 admits C1 and bidi characters (ESC it does not)
EVIL_RAW = "\x9b2J\u202egnp.exe"
BAD_URI = f"test:///nonexistent/{OSC_TITLE}{OSC_CLIPBOARD}{CLEAR}.xml"


def hostile_host(tmp_path: Path) -> Path:
    """The demo's rack-a with a domain named `login-01<CSI>2J<RLO>gnp.exe` and a tag value on head-01
    carrying the same."""
    src = (ROOT / "cockpit" / "sandbox" / "libvirt" / "rack-a.xml").read_text()
    src = src.replace("<name>login-01</name>", f"<name>login-01{EVIL}</name>", 1)
    team = "<cockpit:tag key='team'>platform</cockpit:tag>"
    assert team in src
    src = src.replace(team, f"<cockpit:tag key='team'>plat{EVIL}</cockpit:tag>", 1)
    path = tmp_path / "host.xml"
    path.write_text(src)
    return path


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string (\u escapes) is a TOML basic string


@pytest.fixture
def hostile_config(tmp_path: Path) -> Path:
    host = hostile_host(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[audit]\npath = {toml_str(str(tmp_path / "audit.jsonl"))}\n'
                      f'[sources.evil]\nkind = "libvirt"\nuri = {toml_str(f"test://{host}")}\n'
                      f'[sources.bad]\nkind = "libvirt"\nuri = {toml_str(BAD_URI)}\n')
    return config


def cockpit(tmp_path: Path, config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                          env=env, cwd=tmp_path, timeout=120)


def assert_no_raw_bytes(data: bytes) -> None:
    for raw in (b"\x1b", b"\x07", "\x9b".encode(), "\u202e".encode()):
        assert raw not in data, f"raw {raw!r} in {data!r}"


def test_vm_list_text_shows_escapes_on_stdout_and_stderr(tmp_path: Path, hostile_config: Path) -> None:
    r = cockpit(tmp_path, hostile_config, "vm", "list")
    assert_no_raw_bytes(r.stdout)
    assert_no_raw_bytes(r.stderr)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert "evil/login-01\\x9b2J\\u202egnp.exe" in out  # the name is there, and visibly odd
    assert "bad" in err and "\\x1b]0;pwned\\x07\\x1b]52;c;aGk=\\x07\\x1b[2J" in err  # the backend's error


def test_vm_show_text_shows_escaped_tags(tmp_path: Path, hostile_config: Path) -> None:
    r = cockpit(tmp_path, hostile_config, "vm", "show", "evil/head-01")
    assert r.returncode == 0, r.stderr
    assert_no_raw_bytes(r.stdout)
    assert_no_raw_bytes(r.stderr)
    assert "team=plat\\x9b2J\\u202egnp.exe" in r.stdout.decode()


def test_json_output_round_trips_the_exact_strings(tmp_path: Path, hostile_config: Path) -> None:
    r = cockpit(tmp_path, hostile_config, "-o", "json", "vm", "list")
    assert_no_raw_bytes(r.stdout)
    (record,) = [json.loads(line) for line in r.stdout.decode().splitlines()]
    names = {m["name"] for m in record["data"]}
    assert "login-01" + EVIL_RAW in names
    r = cockpit(tmp_path, hostile_config, "-o", "json", "vm", "show", "evil/head-01")
    assert_no_raw_bytes(r.stdout)
    (record,) = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert record["data"]["tags"]["team"] == "plat" + EVIL_RAW


def test_audit_display_escapes_but_the_file_keeps_the_exact_entry(tmp_path: Path, hostile_config: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    target = f"evil/x{CLEAR}{RLO}"
    log.append(make_entry(origin="script", source="evil", command=f"vm stop {OSC_TITLE}", target=target,
                          previous={"state": f"running{OSC_CLIPBOARD}"}, new={"state": f"stopped{C1_CLEAR}"},
                          result="ok", duration_s=0.1))
    r = cockpit(tmp_path, hostile_config, "audit")
    assert r.returncode == 0, r.stderr
    assert_no_raw_bytes(r.stdout)
    assert_no_raw_bytes(r.stderr)
    out = r.stdout.decode()
    assert "vm stop \\x1b]0;pwned\\x07" in out and "evil/x\\x1b[2J\\u202e" in out
    assert "running\\x1b]52;c;aGk=\\x07" in out and "stopped\\x9b2J" in out
    assert_no_raw_bytes((tmp_path / "audit.jsonl").read_bytes())  # json.dumps escaped them in the file
    (entry,), _bad = log.read()
    assert entry.target == target and entry.new == {"state": f"stopped{C1_CLEAR}"}


def test_script_stderr_error_line_is_sanitised() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = Result("vm list", "vm list", "failed", 1, error=f"boom {OSC_TITLE}\nnext {RLO}",
               outcome=Outcome(text=f"note {CLEAR}", table=Table(("A",), ((f"x\ny{C1_CLEAR}",),))))
    _emit(r, 3, "ops", ScriptOptions(), out, err)
    assert_no_raw(out.getvalue() + err.getvalue())
    assert "x\\ny\\x9b2J" in out.getvalue() and "note \\x1b[2J" in out.getvalue()
    assert err.getvalue() == "ops:3: boom \\x1b]0;pwned\\x07\nnext \\u202e\n"
    assert render_table(Table((f"H{RLO}",), (("v",),))).startswith("H\\u202e")


# -- the UI --------------------------------------------------------------------------------------

def toasts_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(t.render()) for t in app.screen.query(Toast))


async def test_notifications_are_plain_sanitised_text(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="machines", sources=())
    message = "invalid value: must match [a-z0-9] and [/foo]"
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await loaded(pilot)
        app.screen.notify(message, title="vm provision failed", severity="error")  # Widget.notify: markup=True
        app.notify(f"host says {OSC_TITLE}{CLEAR}{RLO}", title=f"[b]t{C1_CLEAR}")
        await wait_for(pilot, lambda: "must match" in toasts_text(app))
        await wait_for(pilot, lambda: "host says" in toasts_text(app))
        text = toasts_text(app)
        assert message in text  # brackets literal: no markup, no MarkupError
        assert "host says \\x1b]0;pwned\\x07\\x1b[2J\\u202e" in text and "[b]t\\x9b2J" in text
        assert_no_raw(text)


async def test_table_detail_and_status_bar_show_escapes(tmp_path: Path) -> None:
    host = hostile_host(tmp_path)
    sources = (SourceConfig("evil", "libvirt", settings={"uri": f"test://{host}"}),
               SourceConfig("bad", "libvirt", settings={"uri": BAD_URI}))
    app = make_app(tmp_path / "audit.jsonl", start_view="machines", sources=sources)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        table = app.screen.query_one("#machines-table", VirtualTable)
        await wait_for(pilot, lambda: table.row_count >= 6)
        lines = "\n".join(table.render_line(y).text for y in range(table.size.height))
        assert "login-01\\x9b2J\\u20" in lines  # the NAME column cuts it: what it shows is escaped
        assert_no_raw(lines)
        table.move_to("evil/head-01")
        await pilot.pause()
        detail = str(app.screen.query_one("#detail", Static).render())
        assert "team=plat\\x9b2J\\u202egnp.exe" in detail
        assert_no_raw(detail)
        app.screen.refresh_status()  # type: ignore[attr-defined]
        status = str(app.screen.query_one(StatusBar).render())
        assert "● bad down since " in status  # the status bar says few words; the reason is on the Overview
        assert_no_raw(status)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.screen.query("#overview-sources"))
        overview = str(app.screen.query_one("#overview-problems").render())  # a source down: a problem
        assert "\\x1b]0;pwned" in overview
        assert_no_raw(overview)


def test_ui_safe_keeps_styles() -> None:
    content = Content.from_markup("[b]$name[/] ok", name=f"x{CLEAR}")
    shown = safe(content)
    assert shown.plain == "x\\x1b[2J ok"
    assert all(s.style == "b" for s in shown.spans) and max(s.end for s in shown.spans) == len("x\\x1b[2J")
    assert safe(Content("plain")) is not None and safe("[b]not markup[/b]").plain == "[b]not markup[/b]"


def test_command_line_never_suggests_a_hostile_name() -> None:
    assert _first([f"rack/a{RLO}x", "rack/ab"], "rack/a") == "rack/ab"
