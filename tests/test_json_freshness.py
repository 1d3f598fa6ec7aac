"""Every JSON record of script mode says how far its answer can be trusted: when its reads were done
(`as_of`), the health of each source the command consulted and only those (`sources`), and why each
one that failed did (`errors`); time-series figures carry their own `as_of` and `stale` (issue 14).

Against real components: libvirt's test driver on the shipped demo hosts, a libvirt source at a
closed port, Debian's Prometheus (the session's, and one of this file's own that is killed). The
subprocess `timeout=` is a hang guard only; no test asserts how long anything took. Times that are
asserted exactly come from an injected clock."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import Context, build_registry
from cockpit.config import Config
from cockpit.hub import Hub
from cockpit.sandbox import libvirt_uri, prom_source
from cockpit.sandbox.prom import PromServer, free_port
from cockpit.script import ScriptOptions, read_lines, run_script
from tests.conftest import FIXED_NOW, ROOT
from tests.prom_helpers import prometheus_missing

OLD_KEYS = {"line", "input", "command", "status", "exit_code", "data", "error", "duration_ms"}
SOURCE_KEYS = {"health", "since", "as_of", "stale", "error"}


def cockpit(tmp_path: Path, config: str, script: str, *flags: str, output: str = "json"
            ) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    path.write_text("local_machine = false\n" + config)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(path), "--script", "-", "-o", output,
                           *flags], capture_output=True, text=True, input=script, env=env, cwd=tmp_path, timeout=120)


def records(r: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert "Traceback" not in r.stderr, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.utcoffset() == timedelta(0), f"{text} is not in UTC"
    return when


def libvirt(name: str, uri: str) -> str:
    return f'[sources.{name}]\nkind = "libvirt"\ntimeout_seconds = 10\nuri = "{uri}"\n'


def closed_port_libvirt(name: str) -> str:
    """A libvirt source whose daemon is not there: nothing listens on its port."""
    return libvirt(name, f"qemu+tcp://127.0.0.1:{free_port()}/system")


# -- every record: when, which sources, what failed ------------------------------------------------
def test_each_record_says_when_and_which_sources_it_consulted(tmp_path: Path) -> None:
    config = (libvirt("rack-a", libvirt_uri("rack-a")) + libvirt("rack-b", libvirt_uri("rack-b"))
              + f'[sources.prom]\nkind = "prometheus"\nurl = "http://127.0.0.1:{free_port()}"\n')
    before = datetime.now().astimezone().replace(microsecond=0)
    r = cockpit(tmp_path, config, "vm list --source rack-a\nvm start rack-a/a100-node-03\n"
                                  "vm stop rack-b/h100-node-01 --dry-run\nhelp vm list\n", "--yes")
    assert r.returncode == 0, r.stderr
    listed, started, planned, helped = records(r)
    for rec in (listed, started, planned, helped):
        assert set(rec) == OLD_KEYS | {"as_of", "sources", "errors"}, rec
        assert before <= utc(rec["as_of"]) <= datetime.now().astimezone()
        assert rec["errors"] == {}
    assert utc(listed["as_of"]) <= utc(started["as_of"]) <= utc(planned["as_of"]) <= utc(helped["as_of"])
    # only what the command asked: rack-b and the (unreachable) Prometheus were not consulted by line 1
    assert list(listed["sources"]) == ["rack-a"]
    rack_a = listed["sources"]["rack-a"]
    assert set(rack_a) == SOURCE_KEYS
    assert rack_a["health"] == "ok" and rack_a["stale"] is False and rack_a["error"] is None
    assert utc(rack_a["since"]) <= utc(rack_a["as_of"]) <= utc(listed["as_of"])
    assert list(started["sources"]) == ["rack-a"]  # a change: the source it changed
    assert list(planned["sources"]) == ["rack-b"]  # a plan reads its source's state, changes nothing
    assert helped["sources"] == {}  # help asks no source


def test_a_read_with_a_source_down_names_it_and_exits_1(tmp_path: Path) -> None:
    config = (libvirt("rack-a", libvirt_uri("rack-a")) + closed_port_libvirt("rack-z")
              + f'[sources.prom]\nkind = "prometheus"\nurl = "http://127.0.0.1:{free_port()}"\n')
    r = cockpit(tmp_path, config, "vm list\n")
    assert r.returncode == 1, (r.stdout, r.stderr)
    (rec,) = records(r)
    assert rec["status"] == "failed" and rec["exit_code"] == 1
    assert {m["source"] for m in rec["data"]} == {"rack-a"}  # the others' answers are still printed
    assert list(rec["errors"]) == ["rack-z"]
    assert rec["errors"]["rack-z"].startswith("rack-z: cannot open qemu+tcp://127.0.0.1:")
    assert "Connection refused" in rec["errors"]["rack-z"]
    assert set(rec["sources"]) == {"rack-a", "rack-z"}  # not the Prometheus: vm list does not ask it
    down = rec["sources"]["rack-z"]
    assert down["health"] == "down" and down["error"] == rec["errors"]["rack-z"]
    # it never answered: what it would have said is unknown (as_of null), not stale figures
    assert down["as_of"] is None and down["stale"] is False and utc(down["since"]) <= utc(rec["as_of"])
    assert rec["sources"]["rack-a"]["health"] == "ok" and rec["sources"]["rack-a"]["error"] is None


# -- a source that answered, then died: stale since, on an injected clock ----------------------------
class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def run_lines(ctx: Context, script: str) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_script(read_lines(script), name="ops", registry=build_registry(), ctx=ctx,
                      opts=ScriptOptions(output="json", keep_going=True), out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@prometheus_missing
def test_a_killed_prometheus_is_down_and_what_it_said_is_stale(tmp_path: Path) -> None:
    server = PromServer(tmp_path / "prom").start()  # its own: this test kills it
    clock = Clock(FIXED_NOW)
    hub = Hub(Config(sources=(prom_source("prom", server.url),)), now=clock)
    ctx = Context(hub=hub, audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        code, (alive,), _ = run_lines(ctx, "metrics query 'vector(1)'\n")
        assert code == 0
        assert alive["as_of"] == "2026-11-23T09:30:00+00:00"  # the hub's clock, not the wall's
        assert alive["sources"] == {"prom": {"health": "ok", "since": "2026-11-23T09:30:00+00:00",
                                             "as_of": "2026-11-23T09:30:00+00:00", "stale": False, "error": None}}
        (series,) = alive["data"]
        assert series["stale"] is False and series["values"][0][1] == 1.0

        server.stop(graceful=False)
        clock.now = FIXED_NOW + timedelta(minutes=1)
        code, (dead,), _ = run_lines(ctx, "metrics query 'vector(1)'\n")
        assert code == 1 and dead["error"].startswith("prom: cannot reach Prometheus at "), dead
        assert dead["as_of"] == "2026-11-23T09:31:00+00:00" and dead["data"] == []
        prom = dead["sources"]["prom"]
        assert prom["health"] == "down" and prom["since"] == "2026-11-23T09:31:00+00:00"
        # what it said last is from 09:30, and it failed since: stale
        assert prom["as_of"] == "2026-11-23T09:30:00+00:00" and prom["stale"] is True
        assert prom["error"].startswith("prom: cannot reach Prometheus at ")
        assert dead["errors"] == {"prom": prom["error"]}
    finally:
        hub.close()
        server.stop(graceful=False)


# -- time-series figures carry their own freshness ---------------------------------------------------
@prometheus_missing
def test_metrics_query_series_carry_their_sample_time_and_stale(tmp_path: Path, prom: PromServer) -> None:
    cut = int(time.time()) - 120  # a series that stopped reporting two minutes before the query
    live = 'DCGM_FI_DEV_GPU_UTIL{Hostname="l40s-02",gpu="0"}'
    stopped = f"{live} and on() (vector(time()) < {cut})"
    config = f'[sources.prom]\nkind = "prometheus"\nurl = "{prom.url}"\n' + closed_port_libvirt("rack-z")
    script = f"metrics query '{live}'\nmetrics query '{live}' --range 6m --step 10s\n" \
             f"metrics query '{stopped}' --range 6m --step 10s\n"
    r = cockpit(tmp_path, config, script)
    assert r.returncode == 0, r.stderr
    instant, ranged, ended = records(r)
    for rec in (instant, ranged, ended):
        assert list(rec["sources"]) == ["prom"] and rec["sources"]["prom"]["health"] == "ok"
        assert rec["errors"] == {}
    (now,) = instant["data"]
    assert now["stale"] is False and utc(now["as_of"]) <= utc(instant["as_of"])  # the query's time
    (series,) = ranged["data"]
    assert series["stale"] is False
    assert utc(series["as_of"]).timestamp() == int(series["values"][-1][0])  # its newest point's time
    (old,) = ended["data"]
    assert old["stale"] is True and utc(old["as_of"]).timestamp() <= cut
    assert old["values"][-1][0] <= cut and old["values"][-1][1] == 3.0  # its last value, as it was

    text = cockpit(tmp_path, config, script, output="text")
    assert text.returncode == 0, text.stderr
    rows = [re.split(r"\s{2,}", line) for line in text.stdout.splitlines() if line.startswith("prom ")]
    assert [r[2] for r in rows] == ["3", "3", "~3"], text.stdout  # only the stopped series' LAST is marked
    notes = [line for line in text.stdout.splitlines() if "stale" in line]
    assert notes == ["~ 1 series stale: no point in the last two steps of the range (stopped reporting)"], notes


@prometheus_missing
def test_a_read_where_one_prometheus_is_down(tmp_path: Path, prom: PromServer) -> None:
    config = (f'[sources.prom]\nkind = "prometheus"\nurl = "{prom.url}"\n'
              f'[sources.gone]\nkind = "prometheus"\nurl = "http://127.0.0.1:{free_port()}"\n')
    r = cockpit(tmp_path, config, "metrics query 'count(DCGM_FI_DEV_GPU_UTIL)'\n")
    assert r.returncode == 1, (r.stdout, r.stderr)
    (rec,) = records(r)
    (answer,) = rec["data"]
    assert answer["source"] == "prom" and answer["stale"] is False and answer["values"][0][1] > 0
    assert rec["sources"]["prom"]["health"] == "ok"
    assert rec["sources"]["gone"]["health"] == "down" and rec["sources"]["gone"]["stale"] is False
    assert list(rec["errors"]) == ["gone"] and rec["errors"]["gone"].startswith("gone: cannot reach Prometheus")


class Hours:
    """A clock that moves an hour each time it is read."""

    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


@prometheus_missing
@pytest.mark.parametrize("moving", [False, True], ids=["clock-stands", "clock-moves"])
def test_panels_older_than_two_steps_are_stale_and_marked(tmp_path: Path, prom: PromServer, moving: bool) -> None:
    """With a clock that moves an hour at each reading, the snapshot is hours old when it is judged,
    older than two of its 10 s steps: JSON says stale and each figure in the text is marked. With a
    clock that stands, the same read is fresh and unmarked."""
    hub = Hub(Config(sources=(prom_source("prom", prom.url),)), now=Hours() if moving else Clock(FIXED_NOW))
    ctx = Context(hub=hub, audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        code, (rec,), _ = run_lines(ctx, "metrics panels --window 10m\n")
        assert code == 0
        (snap,) = rec["data"]
        assert snap["stale"] is moving and snap["step_s"] == 10
        assert (utc(snap["as_of"]) < utc(rec["as_of"])) is moving
        out, err = io.StringIO(), io.StringIO()
        assert run_script(read_lines("metrics panels --window 10m\n"), name="ops", registry=build_registry(),
                          ctx=ctx, opts=ScriptOptions(), out=out, err=err) == 0
        lines = out.getvalue().splitlines()
        util = next(line.split() for line in lines if line.split()[:4] == ["prom", "GPU", "util",
                                                                           "gpu-prod/h100-01/gpu0"])
        assert util[4:7] == (["~93%"] * 3 if moving else ["93%"] * 3), util
        notes = [line for line in lines if line.startswith("~ prom: stale, as of ")]
        assert len(notes) == moving and all(re.search(r"\(not refreshed for \d+s\)$", n) for n in notes), lines
    finally:
        hub.close()


@prometheus_missing
def test_gpu_figures_and_idle_peaks_say_when_they_were_read(tmp_path: Path, prom: PromServer) -> None:
    hub = Hub(Config(sources=(prom_source("prom", prom.url),)), now=Clock(FIXED_NOW))
    ctx = Context(hub=hub, audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        code, (gpus, idle), _ = run_lines(ctx, "metrics gpus\ncost idle --window 5m\n")
        assert code == 0
        (dcgm,) = gpus["data"]
        assert dcgm["kind"] == "prometheus" and len(dcgm["gpus"]) == 74
        assert (dcgm["as_of"], dcgm["stale"]) == ("2026-11-23T09:30:00+00:00", False)
        assert (idle["data"]["as_of"], idle["data"]["stale"]) == ("2026-11-23T09:30:00+00:00", False)
        assert idle["data"]["gpus_checked"] == 74
        assert list(gpus["sources"]) == list(idle["sources"]) == ["prom"]
    finally:
        hub.close()
