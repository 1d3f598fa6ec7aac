"""A real Prometheus (Debian's `prometheus` binary) scraping a prometheus_client exporter that
speaks DCGM and inference-server metric names, with hours of history written in first through
`promtool tsdb create-blocks-from openmetrics`: the demo's and the tests' metrics source.

Prometheus runs as a subprocess on a free local port with its data in a temporary directory;
`stop` (also at exit) ends it and removes the files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from cockpit.contracts import BackendUnavailable
from cockpit.sandbox import stopping
from cockpit.sandbox.child import Child
from cockpit.sandbox.lazy import LazyService, free_port
from cockpit.sandbox.prom.fleet import BUCKETS, HOSTS, Fleet, Served

JOB, INSTANCE = "dcgm-demo", "demo-exporter"
INSTALL_HINT = "Prometheus is not installed: apt-get install prometheus (or ./dev demo, which installs it)"


def binary(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)


class FleetCollector:
    """prometheus_client's custom-collector interface: every scrape computes the values at now."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        t = time.time()
        gauges: dict[tuple[str, tuple[str, ...]], Any] = {}  # MIG slices add labels: a family per shape
        for h, labels in self.fleet.gpu_units():
            names = tuple(sorted(labels))
            for field, value in self.fleet.gpu_values(h, labels, t).items():
                fam = gauges.get((field, names))
                if fam is None:
                    fam = gauges[field, names] = GaugeMetricFamily(field, f"DCGM field {field}", labels=names)
                fam.add_metric([labels[k] for k in names], value)
        yield from gauges.values()
        requests = CounterMetricFamily("http_requests", "HTTP requests served", labels=["namespace", "pod",
                                                                                         "cluster", "code"])
        latency = HistogramMetricFamily("http_request_duration_seconds", "Request latency",
                                        labels=["namespace", "pod", "cluster"])
        for s in self.fleet.served():
            buckets: list[tuple[str, float]] = []
            total = 0.0
            for name, labels, value in self.fleet.serving_samples(s, t):
                if name == "http_requests_total":
                    requests.add_metric([labels["namespace"], labels["pod"], labels["cluster"], labels["code"]],
                                        value)
                elif name.endswith("_bucket"):
                    buckets.append((labels["le"], value))
                elif name.endswith("_sum"):
                    total = value
            latency.add_metric([s.namespace, s.pod, s.cluster], buckets, total)
        yield requests
        yield latency
        cpu = CounterMetricFamily("node_cpu_seconds", "Seconds the CPUs spent in each mode",
                                  labels=["instance", "cpu", "mode"])
        mem = {n: GaugeMetricFamily(n, "Memory information field", labels=["instance"])
               for n in ("node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes")}
        for node in HOSTS:
            for name, labels, value in self.fleet.host_samples(node, t):
                if name == "node_cpu_seconds_total":
                    cpu.add_metric([labels["instance"], labels["cpu"], labels["mode"]], value)
                else:
                    mem[name].add_metric([labels["instance"]], value)
        yield cpu
        yield from mem.values()


class PromServer:
    """The exporter (in a thread of this process) and Prometheus (a subprocess) scraping it."""

    def __init__(self, workdir: Path, *, steady: bool = False, history_s: float = 0.0,
                 scrape_s: float = 15.0, port: int = 0, history_step: float | None = None) -> None:
        self.workdir = workdir
        self.fleet = Fleet(steady=steady, t0=time.time() - history_s - 60)
        self.history_s = history_s
        self.scrape_s = scrape_s
        self.history_step = history_step or scrape_s
        """History at the scrape interval by default, so rates read the same across the seam."""
        self.port = port
        self.started = 0.0
        """When the live scrape began: older points come from the history promtool wrote."""
        self.exporter_port = 0
        self._proc: Child | None = None
        self._http: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> PromServer:
        prom, promtool = binary("prometheus"), binary("promtool")
        if prom is None:
            raise BackendUnavailable(INSTALL_HINT)
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(FleetCollector(self.fleet))
        self.exporter_port = free_port()
        self._http, _ = start_http_server(self.exporter_port, addr="127.0.0.1", registry=registry)
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        if self.history_s and promtool:
            self._backfill(promtool, data)
        self.port = self.port or free_port()
        config = self.workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {self.scrape_s:g}s\n  evaluation_interval: 15s\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    honor_labels: true\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.exporter_port}']\n"
            f"    relabel_configs:\n      - target_label: instance\n        replacement: {INSTANCE}\n",
            encoding="utf-8")
        self.started = time.time()
        self._proc = Child("prometheus", [prom, f"--config.file={config}", f"--storage.tsdb.path={data}",
                                          f"--web.listen-address=127.0.0.1:{self.port}",
                                          "--storage.tsdb.retention.time=2d"],
                           self.workdir / "prometheus.log", cwd=self.workdir)
        self._proc.start(f"{self.url}/-/ready", ready_timeout)
        return self

    def _backfill(self, promtool: str, data: Path) -> None:
        end = time.time() - 1  # the live scrape starts a moment later: no gap for rate() to stumble on
        start = end - self.history_s
        path = self.workdir / "history.om"
        written = subprocess.run([sys.executable, "-m", "cockpit.sandbox.prom.fleet", str(path), repr(start), repr(end),
                                  repr(self.history_step), repr(self.fleet.t0), "1" if self.fleet.steady else "0",
                                  JOB, INSTANCE], capture_output=True, text=True, timeout=300)
        if written.returncode != 0:
            tail = (written.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackendUnavailable(f"the demo history could not be written: {tail}")
        done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(data)],
                              capture_output=True, text=True, timeout=300)
        path.unlink()
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackendUnavailable(f"promtool could not write the demo history: {tail}")

    def wait_for_data(self, query: str = "DCGM_FI_DEV_GPU_UTIL", timeout: float = 60.0) -> None:
        """The first scrape is queryable some seconds after start: poll until `query` has series."""
        import json
        from urllib.parse import quote

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/query?query={quote(query)}", timeout=2) as r:
                    if json.loads(r.read())["data"]["result"]:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"no {query} series in Prometheus after {timeout:g}s")

    def stop(self, graceful: bool = True) -> None:
        """End Prometheus (SIGTERM: it writes its head block first, which takes seconds; or, for a
        throwaway instance whose data is deleted next, SIGKILL) and the exporter."""
        if self._proc is not None:
            self._proc.stop(graceful)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class LazyPrometheus(LazyService):
    """The demo's Prometheus, started on first use (the hub's prepare hook, after the first frame)
    with three hours of history at its 15 s scrape interval (about 5 s to write); without the
    binary the source is down with the install hint."""

    server: PromServer | None = None
    imports = ("prometheus_client", "prometheus_client.core", "cockpit.sandbox.canaries")

    def __init__(self, history_s: float = 3 * 3600) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="cockpit-demo-prom-"))
        stopping.remove_at_exit(self.workdir)
        self.history_s = history_s
        self.extra: Callable[[], Sequence[Served]] = lambda: ()
        """Pods served beside the fixed fleet (the demo cluster's canaries)."""

    def _start(self) -> None:
        server = PromServer(self.workdir, history_s=self.history_s, port=self.port)
        server.fleet.extra = self.extra
        stopping.at_exit(partial(server.stop, graceful=False))  # its data goes with the work dir
        server.start()
        self.server = server


__all__ = ["BUCKETS", "LazyPrometheus", "PromServer", "free_port"]
