"""The Prometheus source against Debian's real `prometheus` binary scraping the sandbox exporter
(DCGM and inference series, steady values): the backend, script mode in a subprocess, the
Metrics screen and the metric columns of Nodes, Machines and Deployments through Pilot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backends.prometheus.adapter import PrometheusBackend
from cockpit import promql
from cockpit.contracts import LOCAL_METRICS, SERIES, BackendUnavailable, BadInput, Forbidden
from cockpit.hub import Hub
from cockpit.sandbox import demo_config, prom_source
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer, free_port
from screens.widgets.dialogs import TextScreen
from screens.widgets.virtual_table import VirtualTable
from tests.conftest import ROOT
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import expected_quantile, prometheus_missing, served
from tests.ui_helpers import loaded, make_app, wait_for

pytestmark = prometheus_missing


def backend(prom: PromServer, **settings: Any) -> PrometheusBackend:
    return PrometheusBackend("prom", {"url": prom.url, "query_timeout": 10.0} | settings)


# -- the backend -----------------------------------------------------------------------------
def test_instant_and_range_queries_read_dcgm_series_and_the_history_promtool_wrote(prom: PromServer) -> None:
    b = backend(prom)
    (one,) = b.query('DCGM_FI_DEV_GPU_UTIL{cluster="gpu-prod",Hostname="h100-01",gpu="3"}')
    assert one.last == 93.0 and one.label("modelName") == "NVIDIA H100 80GB HBM3"
    (total,) = b.query("count(DCGM_FI_DEV_GPU_UTIL)")
    assert total.labels == () and total.last == 67  # 67 whole GPUs; the MIG slices report GR_ENGINE_ACTIVE
    # a window fixed to when the server started (not to now: a session's Prometheus may be minutes old
    # when this test runs), reaching 400 s back into the history promtool wrote before it started
    start = prom.started - 400
    (series,) = b.query_range('DCGM_FI_DEV_GPU_UTIL{Hostname="a100-node-01",gpu="0"}', start,
                              max(time.time(), prom.started + 20), 20)
    assert len(series.points) >= 20 and series.points[0][0] < prom.started - 300  # from the backfilled blocks
    assert set(series.values) == {88.0}


def test_panels_give_gpu_and_serving_figures(prom: PromServer) -> None:
    results = {r.spec.id: r for r in backend(prom).panels(promql.panels_for({"rate_window": "5m"}), 600, 15)}
    assert len(results["gpu_util"].series) == 74 and results["gpu_util"].reason == ""
    mig = [s for s in results["gpu_util"].series if s.label("GPU_I_ID")]
    assert len(mig) == 7 and {round(s.last or 0, 6) for s in mig} == {55.0}  # DCGM_FI_PROF_GR_ENGINE_ACTIVE x 100
    assert results["gpu_xid"].series == () and results["gpu_xid"].reason == ""  # no XID errors is not a problem

    def of(panel: str, workload: str, cluster: str = "gpu-prod") -> float:
        s = next(s for s in results[panel].series if s.label("workload") == workload and s.label("cluster") == cluster)
        assert s.last is not None
        return s.last

    assert of("rps", "llama-70b") == pytest.approx(42.0, rel=0.05)
    assert of("rps", "mistral-7b-predictor") == pytest.approx(28.0, rel=0.05)  # a Knative pod name, parsed
    assert of("errors", "reranker") == pytest.approx(2.1, rel=0.05)
    assert of("errors", "router") == 0.0
    assert of("p95", "llama-70b") == pytest.approx(expected_quantile(0.95, served("llama-70b")), rel=0.02)
    hosts = {s.label("instance"): s.last for s in results["host_cpu"].series}
    assert hosts["h100-01:9100"] == pytest.approx(61.0, rel=0.02) and len(hosts) == 5  # node exporter series
    assert {round(s.last or 0) for s in results["host_mem"].series if s.label("instance") == "h100-01:9100"} == {83}
    assert of("p50", "llama-8b", "gpu-eu") == pytest.approx(expected_quantile(0.5, served("llama-8b", "gpu-eu")),
                                                           rel=0.02)


def test_missing_series_and_bad_promql_say_why(prom: PromServer) -> None:
    settings = {"requests_metric": "vllm_requests_total", "latency_metric": "vllm_latency_seconds"}
    results = {r.spec.id: r for r in backend(prom).panels(promql.panels_for(settings), 300, 15)}
    assert results["rps"].reason == ("no vllm_requests_total series in this Prometheus (set requests_metric in the "
                                     "source's config)")
    assert results["p95"].reason.startswith("no vllm_latency_seconds_bucket histogram in this Prometheus")
    with pytest.raises(BadInput, match=r"^prom: PromQL: .*parse error"):
        backend(prom).query("sum(rate(DCGM_FI_DEV_GPU_UTIL[5m])")
    user = promql.user_panels([{"title": "broken", "query": "rate(", "unit": ""}])
    (broken,) = backend(prom).panels(user, 300, 15)
    assert broken.series == () and broken.reason.startswith("PromQL: ")  # one bad panel, not a failed source


def test_the_demo_without_the_prometheus_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    import cockpit.sandbox.prom as sandbox_prom
    from cockpit.sandbox.prom import INSTALL_HINT, LazyPrometheus

    monkeypatch.setattr(sandbox_prom, "binary", lambda name: None)  # a machine without the Debian package
    hub = Hub(demo_config(prometheus=LazyPrometheus(), audit_path=tmp_path / "audit.jsonl"))
    with pytest.raises(BackendUnavailable, match=re.escape(INSTALL_HINT)):
        hub.call("prom", SERIES, lambda b: b.ping())
    health = hub.health("prom")
    assert health.state.value == "down" and health.reason == INSTALL_HINT
    # this machine's panel still works
    assert hub.call("local", LOCAL_METRICS, lambda b: b.snapshot()).host.cpu_count > 0


def test_an_unreachable_prometheus_is_unavailable_in_one_line() -> None:
    b = PrometheusBackend("prom", {"url": f"http://127.0.0.1:{free_port()}", "query_timeout": 2.0})
    with pytest.raises(BackendUnavailable, match=r"^prom: cannot reach Prometheus at http://127\.0\.0\.1:\d+: ") as e:
        b.ping()
    assert "\n" not in str(e.value)


class _Recorder(BaseHTTPRequestHandler):
    """Records the Authorization header; answers like Prometheus, or 401 for the wrong secret."""

    seen: list[str] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        _Recorder.seen.append(auth)
        ok = auth in ("Bearer s3cret-token", "Basic YWxpY2U6aHVudGVyMg==")  # alice:hunter2
        body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [time.time(), "1"]}}
                          if ok else {"status": "error", "errorType": "unauthorized", "error": "unauthorized"})
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_credentials_from_the_environment_are_sent_and_never_shown(recorder: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cockpit.config import Config

    monkeypatch.setenv("PROM_TOKEN", "s3cret-token")
    monkeypatch.setenv("PROM_PASSWORD", "hunter2")
    hub = Hub(Config(sources=(prom_source("tok", recorder, bearer_token_env="PROM_TOKEN"),
                              prom_source("basic", recorder, username="alice", password_env="PROM_PASSWORD"),
                              prom_source("wrong", recorder, bearer_token="not-it"))))
    hub.call("tok", SERIES, lambda b: b.ping())
    hub.call("basic", SERIES, lambda b: b.ping())
    assert _Recorder.seen == ["Bearer s3cret-token", "Basic YWxpY2U6aHVudGVyMg=="]
    with pytest.raises(Forbidden) as e:
        hub.call("wrong", SERIES, lambda b: b.ping())
    assert str(e.value) == ("wrong: Prometheus refused the credentials (HTTP 401): check username/password or the "
                            "bearer token")
    monkeypatch.delenv("PROM_TOKEN")
    fresh = Hub(Config(sources=(prom_source("tok", recorder, bearer_token_env="PROM_TOKEN"),)))
    with pytest.raises(BadInput, match=r"^tok: bearer_token_env: environment variable PROM_TOKEN is not set$"):
        fresh.call("tok", SERIES, lambda b: b.ping())


# -- script mode -----------------------------------------------------------------------------
def run(tmp_path: Path, prom: PromServer, *args: str, stdin: str | None = None,
        extra: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.prom]\nkind = "prometheus"\nurl = "{prom.url}"\n' + extra)
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                          text=True, input=stdin, env=env, timeout=120)


def test_metrics_commands_in_script_mode(tmp_path: Path, prom: PromServer) -> None:
    script = """\
metrics query 'DCGM_FI_DEV_GPU_UTIL{Hostname="l40s-02"}'
metrics query 'avg(DCGM_FI_DEV_GPU_TEMP{Hostname="a100-01"})' --range 6m --step 2m
metrics gpus
metrics panels --window 10m
"""
    r = run(tmp_path, prom, "--script", "-", "-o", "json", stdin=script)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["status"] for o in out] == ["ok"] * 4
    instant = out[0]["data"]
    assert len(instant) == 4 and {d["labels"]["cluster"] for d in instant} == {"gpu-eu"}
    assert {d["values"][0][1] for d in instant} == {3.0}
    (ranged,) = out[1]["data"]
    assert len(ranged["values"]) == 4 and {v for _, v in ranged["values"]} == {67.0}  # 34 + 78 * 0.42
    (dcgm,) = [d for d in out[2]["data"] if d.get("kind") == "prometheus"]
    h100 = next(g for g in dcgm["gpus"] if g["host"] == "h100-01" and g["gpu"] == "7")
    assert h100["gpu_util"] == 93.0 and h100["cluster"] == "gpu-prod" and h100["gpu_power"] == pytest.approx(376.2)
    panels = {p["id"]: p for p in out[3]["data"][0]["panels"]}
    assert out[3]["data"][0]["window_s"] == 600 and len(panels["p99"]["series"]) == 7
    text = run(tmp_path, prom, "metrics", "panels", "--window", "10m")
    rows = [line.split() for line in text.stdout.splitlines()]
    assert ["prom", "Latency", "p95", "gpu-prod/inference/llama-70b"] in [r[:4] for r in rows]
    assert any(r[:3] == ["prom", "GPU", "util"] and r[3] == "gpu-prod/h100-01/gpu0" and r[4] == "93%" for r in rows)


def test_metrics_query_prints_small_large_and_string_results(tmp_path: Path, prom: PromServer) -> None:
    """An error ratio of 0.2445% is not 0.00, and a string result is its string, not "-"."""
    script = ("metrics query 'vector(0.002445123)'\nmetrics query 'vector(1234567.891)'\n"
              "metrics query 'scalar(vector(42))'\nmetrics query '\"hello\"'\n")
    text = run(tmp_path, prom, "--script", "-", stdin=script)
    assert text.returncode == 0, text.stderr
    values = [line.split()[-1] for line in text.stdout.splitlines() if line.startswith("prom ")]
    assert values == ["0.002445", "1234568", "42", "hello"]
    js = run(tmp_path, prom, "--script", "-", "-o", "json", stdin=script)
    assert js.returncode == 0, js.stderr
    out = [json.loads(line)["data"] for line in js.stdout.splitlines()]
    assert out[0][0]["values"][0][1] == 0.002445123  # JSON stays exact
    assert out[3][0]["values"][0][1] == "hello"


def test_bad_promql_and_arguments_fail_with_a_line_number(tmp_path: Path, prom: PromServer) -> None:
    script = "metrics query 'DCGM_FI_DEV_GPU_UTIL'\nmetrics query 'sum(DCGM_FI_DEV_GPU_UTIL'\n"
    script += "metrics query up --step 30s\nmetrics query up --range 7d --step 1s\n"
    r = run(tmp_path, prom, "--script", "-", "--keep-going", stdin=script)
    assert r.returncode == 2
    errors = r.stderr.strip().splitlines()
    assert errors[0].startswith("<stdin>:2: prom: PromQL: ") and "parse error" in errors[0]
    assert errors[1] == "<stdin>:3: --step: only with --range (an instant query has no step)"
    assert errors[2] == ("<stdin>:4: --range 604800s --step 1s: over 11,000 points per series (Prometheus' limit): "
                         "a larger step")
    bad = run(tmp_path, prom, "metrics", "gpus", extra='[[sources.prom.panels]]\ntitle = "x"\nquery = "up"\n'
                                                      'unit = "furlongs"\n')
    where = f"cockpit: {tmp_path / 'config.toml'}:8: sources.prom.panels.0.unit"
    assert bad.returncode == 2 and bad.stderr.startswith(where)


# -- the screens -----------------------------------------------------------------------------
def _per_s(cell: str) -> float:
    return float(cell.removesuffix("/s"))


def _column(t: VirtualTable, key: str) -> int:
    return [c.key for c in t.columns].index(key)


def _cells(t: VirtualTable, key: str) -> tuple[str, ...]:
    row = t.row(key)
    assert row is not None, f"no row {key}"
    return row.cells


@kubectl_missing
async def test_metrics_screen_and_metric_columns(kube: KubeFake, prom: PromServer, tmp_path: Path) -> None:
    base = demo_config(kube=kube, audit_path=tmp_path / "audit.jsonl")
    panel = {"title": "Busiest GPU", "query": "max by (cluster) (DCGM_FI_DEV_GPU_UTIL)", "unit": "%",
             "legend": ["cluster"], "warn": 70.0, "lower_is_worse": True}
    config = replace(base, sources=(*base.sources, prom_source("prom", prom.url, window="15m", panels=[panel],
                                                                   rate_window="5m")))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#metrics-table", VirtualTable)
        await wait_for(pilot, lambda: t.row("prom/gpu_util/gpu-prod/h100-01/gpu0") is not None)
        util = t.row("prom/gpu_util/gpu-prod/h100-01/gpu0")
        assert util is not None and util.cells[:4] == ("prom", "GPU util", "gpu-prod/h100-01/gpu0", "93%")
        assert util.cell_styles[3] == "vt--warn"  # over the 90% threshold
        rps = _cells(t, "prom/rps/gpu-prod/inference/llama-70b")
        # a loaded machine can miss a 1 s scrape near the window's end, which rate() extrapolates
        assert _per_s(rps[3]) == pytest.approx(42.0, rel=0.1) and len(rps[6]) == 24
        busiest = t.row("prom/user0/gpu-eu")
        assert busiest is not None and busiest.cells[:4] == ("prom", "Busiest GPU", "gpu-eu", "64%")
        assert busiest.cell_styles[3] == "vt--warn"  # under 70%, and lower is worse for this panel
        assert t.row("prom/user0/gpu-prod").cell_styles == ()  # type: ignore[union-attr]
        summary = str(app.screen.query_one("#metrics-summary").render())
        assert "prom: 74 GPUs, 7 workloads · window 15m step 15s" in summary
        t.move_to("prom/p95/gpu-prod/inference/llama-70b")
        pane = app.screen.query_one("#detail")
        pane.display = True
        app.screen.show_detail()  # type: ignore[attr-defined]
        await pilot.pause()
        mini = str(pane.render()).splitlines()
        # the mini plot fits the pane (it was drawn 44 wide into 41 columns and wrapped), with a time axis
        axis = next(i for i, line in enumerate(mini) if line.split() == ["-15m", "-7m", "now"])
        drawn = [line for line in mini[:axis + 1] if "┤" in line or "└" in line] + [mini[axis]]
        assert len(drawn) == 8 and max(len(line) for line in drawn) <= pane.content_region.width, drawn
        pane.display = False
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen))
        text = app.screen.query_one("#text-body")
        body = str(text.render())
        assert "last 15m, step 15s · now " in body and "┤" in body
        lines = body.splitlines()
        # the full plot fills the dialog's width (it used 61 of ~95 columns) and says when each part was
        chart = [line for line in lines if "┤" in line]
        assert max(len(line) for line in lines) <= text.content_region.width
        assert len(chart[-1]) >= text.content_region.width - 2
        assert any(line.split() == ["-15m", "-11m", "-7m", "-3m", "now"] for line in lines), lines
        await pilot.press("escape")
        await pilot.press("w")
        await pilot.pause(0.3)
        await pilot.press("down", "enter")  # 5m, 15m, [1h] -> 3h
        await wait_for(pilot, lambda: app.inventory.series["prom"].window_s == 10800, timeout=15)

        await pilot.press("3")  # Nodes & GPUs
        await wait_for(pilot, lambda: app.screen.query("#nodes-table"))
        nodes = app.screen.query_one("#nodes-table", VirtualTable)
        assert _cells(nodes, "gpu-prod/h100-01")[7:9] == ("93%", "85%")
        assert _cells(nodes, "gpu-prod/l4-02")[7] == "-"  # NotReady: no exporter answers
        assert _cells(nodes, "gpu-prod/cpu-01")[7] == "-"
        nodes.move_to("gpu-prod/l4-02")
        app.screen.query_one("#detail").display = True
        app.screen.show_detail()  # type: ignore[attr-defined]
        await pilot.pause()
        detail = str(app.screen.query_one("#detail").render())
        assert "GPU use no DCGM series for l4-02 (no exporter on it, or another node_label)" in detail

        await pilot.press("5")  # Deployments
        await wait_for(pilot, lambda: app.screen.query("#deployments-table"))
        deploys = app.screen.query_one("#deployments-table", VirtualTable)
        rps, p95 = (_column(deploys, key) for key in ("rps", "p95"))
        llama = _cells(deploys, "deploy:gpu-prod/inference/llama-70b")
        assert _per_s(llama[rps]) == pytest.approx(42.0, rel=0.1)
        assert float(llama[p95].rstrip("s")) == pytest.approx(expected_quantile(0.95, served("llama-70b")), abs=0.011)
        assert _per_s(_cells(deploys, "isvc:gpu-prod/inference/mistral-7b")[rps]) == pytest.approx(28.0, rel=0.1)
        assert _cells(deploys, "deploy:gpu-prod/training/pretrain-7b")[rps:p95 + 1] == ("-", "-")

        await pilot.press("2")  # Machines: a VM's exporter reports its own name as Hostname
        await wait_for(pilot, lambda: app.screen.query("#machines-table"))
        machines = app.screen.query_one("#machines-table", VirtualTable)
        assert _cells(machines, "rack-a/a100-node-01")[8] == "88%"
        assert _cells(machines, "rack-a/a100-node-03")[8] == "-"  # stopped

        await pilot.press("1")  # Overview: the source's health, GPU use and traffic in one line
        await wait_for(pilot, lambda: app.screen.query("#overview-sources"))
        sources = str(app.screen.query_one("#overview-sources").render())
        assert f"prometheus  {prom.url} · " in sources
        assert "74 GPUs, mean use " in sources and " idle (<5%) · 7 workloads, " in sources


async def test_metrics_screen_without_prometheus_says_how_to_add_it(tmp_path: Path) -> None:
    app = make_app(tmp_path / "audit.jsonl", start_view="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        summary = str(app.screen.query_one("#metrics-summary").render())
        assert "no Prometheus source (DCGM and serving panels need one)" in summary
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query("#machines-table"))
        machines = app.screen.query_one("#machines-table", VirtualTable)
        assert _cells(machines, "rack-a/a100-node-01")[8] == "-"
        machines.move_to("rack-a/a100-node-01")
        app.screen.query_one("#detail").display = True
        app.screen.show_detail()  # type: ignore[attr-defined]
        await pilot.pause()
        assert "GPU use no Prometheus source in the config" in str(app.screen.query_one("#detail").render())
