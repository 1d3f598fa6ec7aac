"""Local emulators that `--demo` and the tests stand up: real SDKs against local services.

libvirt's own test driver, opened on shipped node XML files describing two GPU hypervisor hosts
of an HPC cluster, and the Kubernetes API fake (sandbox/kube) seeded with a GPU cluster. Later
backends add their emulators here.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.config import Config, SourceConfig, default_state_dir
from cockpit.contracts import SDK_IMPORT_LOCK
from cockpit.sandbox import stopping

if TYPE_CHECKING:
    from cockpit.sandbox.aws import LazyAws
    from cockpit.sandbox.azure import LazyAzure
    from cockpit.sandbox.gcp import LazyGce
    from cockpit.sandbox.kube.server import KubeFake
    from cockpit.sandbox.prom import LazyPrometheus
    from cockpit.sandbox.prom.fleet import Served

LIBVIRT_DIR = Path(__file__).parent / "libvirt"


def libvirt_uri(host: str) -> str:
    """`test:///abs/path/rack-a.xml`: libvirt's test driver on one of the shipped demo hosts."""
    return f"test://{(LIBVIRT_DIR / f'{host}.xml').resolve()}"


def demo_sources() -> tuple[SourceConfig, ...]:
    return (
        SourceConfig("rack-a", "libvirt", colour="red", label="prod", timeout_seconds=10,
                     settings={"uri": libvirt_uri("rack-a"), "location": "gpu-host-a"}),
        SourceConfig("rack-b", "libvirt", colour="blue", label="research", timeout_seconds=10,
                     settings={"uri": libvirt_uri("rack-b"), "location": "gpu-host-b"}),
    )


def kube_source(name: str, kubeconfig: Path, context: str = "admin", *, colour: str | None = "green",
                label: str | None = None, read_only: bool = False) -> SourceConfig:
    """A source on one context of a fake's kubeconfig (`admin`, or `viewer` whom RBAC limits)."""
    return SourceConfig(name, "kubernetes", read_only=read_only, timeout_seconds=10, colour=colour, label=label,
                        settings={"kubeconfig": str(kubeconfig), "context": context})


def prom_source(name: str, url: str, **settings: object) -> SourceConfig:
    """A Prometheus source as the config file would give it (the demo's, or a test's)."""
    return SourceConfig(name, "prometheus", timeout_seconds=20, colour="amber", label="metrics",
                        settings={"url": url, "window": "1h", "query_timeout": 10.0} | settings)


def start_demo_cluster(workdir: Path | None = None, which: str = "prod") -> KubeFake:
    """A seeded Kubernetes fake on a free local port ("prod": the main GPU cluster, "edge": a
    small second region); stopped (and its files removed) at exit."""
    from cockpit.sandbox.kube.seed import seed, seed_edge
    from cockpit.sandbox.kube.server import KubeFake

    tmp = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cockpit-demo-kube-"))
    fake = KubeFake(workdir).start()
    (seed if which == "prod" else seed_edge)(fake)
    fake.controller.ready_delay = 1.5  # rollouts in the demo take a moment, so their progress shows
    stopping.at_exit(fake.stop)
    if tmp:
        stopping.remove_at_exit(workdir)
    return fake


class LazyCluster:
    """The demo cluster, started on first use: the hub calls `ensure` before it builds the
    source's backend, in a worker thread after the first frame, so the UI does not wait for it."""

    def __init__(self, which: str = "prod") -> None:
        self.which = which
        self.workdir = Path(tempfile.mkdtemp(prefix="cockpit-demo-kube-"))
        stopping.remove_at_exit(self.workdir)
        self.fake: KubeFake | None = None
        self._lock = threading.Lock()

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def ensure(self) -> None:
        with self._lock:
            if self.fake is None:
                with SDK_IMPORT_LOCK:  # its modules are imported while the sources' SDKs may be (see LazyService)
                    import cockpit.sandbox.kube.seed
                    import cockpit.sandbox.kube.server  # noqa: F401
                self.fake = start_demo_cluster(self.workdir, self.which)


def _canaries_of(cluster: LazyCluster) -> Callable[[], Sequence[Served]]:
    def served() -> Sequence[Served]:
        from cockpit.sandbox.canaries import canary_pods

        fake = cluster.fake
        return canary_pods(fake.store, "gpu-prod") if fake is not None else ()

    return served


class LazyRegistry:
    """The demo's MLflow registry: a sqlite file seeded on first use, in a subprocess (mlflow is the
    backend's SDK, which the core never imports; the seed is `python -m backends.mlflow.demo`)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            workdir = Path(tempfile.mkdtemp(prefix="cockpit-demo-mlflow-"))
            stopping.remove_at_exit(workdir)
            path = workdir / "registry.db"
        self.path = path
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.path}"

    def ensure(self) -> None:
        import subprocess
        import sys

        from cockpit.contracts import BackendUnavailable

        with self._lock:
            if self.path.exists():
                return
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cockpit"
            done = subprocess.run([sys.executable, "-m", "backends.mlflow.demo", str(self.path), "--cache",
                                   str(cache)], capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise BackendUnavailable(f"the demo registry could not be seeded: {tail}")


def _nothing() -> None:
    """The prepare hook of a source whose emulator needs no starting (libvirt's test driver)."""


def demo_config(*, read_only: bool = False, theme: str = "dark", audit_path: Path | None = None,
                kube: KubeFake | LazyCluster | None = None, kube_edge: KubeFake | LazyCluster | None = None,
                registry: LazyRegistry | None = None, prometheus: LazyPrometheus | None = None,
                aws: LazyAws | None = None, gcp: LazyGce | None = None, azure: LazyAzure | None = None) -> Config:
    """The demo never touches the user's real audit log: it writes demo-audit.jsonl beside it."""
    from cockpit.config import LOCAL_SOURCE

    sources = (LOCAL_SOURCE, *demo_sources())
    prepare = {}
    if registry is not None:
        sources += (SourceConfig("registry", "mlflow", timeout_seconds=60, colour="magenta", label="mlflow",
                                 settings={"tracking_uri": registry.uri}),)
        prepare["registry"] = registry.ensure
    for name, cluster, colour, label in (("gpu-prod", kube, "green", "k8s"), ("gpu-eu", kube_edge, "cyan", "eu")):
        if cluster is None:
            continue
        sources += (kube_source(name, cluster.kubeconfig, colour=colour, label=label),)
        if isinstance(cluster, LazyCluster):
            prepare[name] = cluster.ensure
    if aws is not None:
        from cockpit.sandbox.aws import aws_source

        sources += (aws_source("aws", aws.url, price_endpoint=aws.prices_url),)
        prepare["aws"] = aws.ensure
    if gcp is not None:
        from cockpit.sandbox.gcp import gcp_source

        sources += (gcp_source("gcp", gcp.url),)
        prepare["gcp"] = gcp.ensure
    if azure is not None:
        from cockpit.sandbox.azure import azure_source

        sources += (azure_source("azure", azure.url, azure.ca_path),)
        prepare["azure"] = azure.ensure
    if prometheus is not None:
        sources += (prom_source("prom", prometheus.url),)
        prepare["prom"] = prometheus.ensure
        if isinstance(kube, LazyCluster):  # the cluster's canaries serve in this Prometheus too
            prometheus.extra = _canaries_of(kube)
    from cockpit.sandbox.needs import NEEDS, checked

    for s in sources:  # each demo source first says, in one line, which packages it lacks (sandbox/needs.py)
        if s.name in NEEDS:
            prepare[s.name] = checked(s.name, prepare.get(s.name, _nothing))
    return Config(sources=sources, theme=theme, refresh_seconds=5.0, read_only=read_only,
                  audit_path=audit_path or default_state_dir() / "demo-audit.jsonl", prepare=prepare)
