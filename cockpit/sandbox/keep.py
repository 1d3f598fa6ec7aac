"""`cockpit demo up` / `cockpit demo down`: the demo's emulators kept running in a process of their
own, so that a newcomer can change the demo with the tools they know (kubectl, the aws CLI, an
mlflow client, curl) and watch the cockpit follow.

`demo up` starts a keeper (`python -m cockpit.sandbox.keep DIR`, in a session of its own) that
stands up exactly what `cockpit --demo` starts lazily (the same `demo_config`, the same prepare
hooks), writes a state file with the endpoints and its pid, and waits for SIGTERM. While that state
file names a live keeper, `cockpit --demo` (UI or a command) uses those emulators instead of
starting its own (`kept_config`); `demo down` stops the keeper, which stops its emulators, and
removes the directory. libvirt's test driver is in-process by nature: each cockpit still opens its
own copy of the two demo hosts.

Everything lives in `$XDG_STATE_HOME/cockpit/demo-up/`: `state.json`, `kubeconfig` (both clusters'
contexts, for kubectl), the registry's sqlite file, the Azure fake's CA and the keeper's log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cockpit.config import Config, default_state_dir, log_level
from cockpit.contracts import BackendUnavailable, CockpitError

START_TIMEOUT_S = 300.0
"""How long `demo up` waits for the keeper (Prometheus writes hours of history first; a cold
registry seed imports mlflow and migrates its schema: well under a minute on a busy 2-core machine)."""
STOP_TIMEOUT_S = 30.0
AZURE_TOKEN = "cockpit-demo-token"


def keep_dir() -> Path:
    return default_state_dir() / "demo-up"


@dataclass(frozen=True)
class Kept:
    """What a running keeper wrote: who it is and where its emulators answer."""

    dir: Path
    pid: int
    create_time: float
    started: str
    ports: dict[str, int]
    errors: dict[str, str] = field(default_factory=dict)
    children: tuple[tuple[int, float], ...] = ()
    """(pid, start time) of the emulators' own processes (moto, Prometheus), for `down` to check."""

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def cluster_dir(self, name: str) -> Path:
        return self.dir / name

    @property
    def registry(self) -> Path:
        return self.dir / "registry.db"

    @property
    def azure_ca(self) -> Path:
        return self.dir / "azure-ca.pem"

    def url(self, name: str) -> str:
        scheme = "https" if name == "azure" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time, "started": self.started, "ports": self.ports,
                "errors": self.errors, "children": [list(c) for c in self.children]}


def read_state(where: Path | None = None) -> Kept | None:
    """The state file's content, or None when there is none (or it is unreadable: a keeper that
    died while writing it, a file from another version)."""
    where = where or keep_dir()
    try:
        raw = json.loads((where / "state.json").read_text(encoding="utf-8"))
        return Kept(where, int(raw["pid"]), float(raw["create_time"]), str(raw["started"]),
                    {str(k): int(v) for k, v in raw["ports"].items()},
                    {str(k): str(v) for k, v in raw.get("errors", {}).items()},
                    tuple((int(p), float(t)) for p, t in raw.get("children", [])))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(pid: int, create_time: float) -> bool:
    """The process `pid` is the one that started at `create_time` (not a later one given the same
    pid) and has not ended (a zombie nobody reaped yet counts as ended)."""
    psutil = _psutil()
    try:
        p = psutil.Process(pid)
        return bool(abs(p.create_time() - create_time) < 1.0 and p.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _psutil() -> Any:
    import importlib

    return importlib.import_module("psutil")  # untyped; a core dependency


def live_state() -> Kept | None:
    kept = read_state()
    return kept if kept is not None and running(kept.pid, kept.create_time) else None


# -- cockpit --demo on a kept demo --------------------------------------------------------------------
def kept_config() -> Config | None:
    """The demo's config on the emulators a live `cockpit demo up` keeps, or None when none is up
    (then `cockpit --demo` starts its own, as it always did)."""
    kept = live_state()
    if kept is None:
        return None
    from dataclasses import replace

    from cockpit.sandbox import LazyCluster, LazyRegistry, demo_config
    from cockpit.sandbox.aws import LazyAws, dummy_credentials
    from cockpit.sandbox.azure import TOKEN_ENV, LazyAzure
    from cockpit.sandbox.gcp import LazyGce
    from cockpit.sandbox.prom import LazyPrometheus

    # Endpoint holders only: `demo_config` reads their URLs and paths; they are never started here (their
    # constructors, which choose ports and make work directories, are skipped), and `prepare` is ours.
    kube, edge = object.__new__(LazyCluster), object.__new__(LazyCluster)
    kube.workdir, edge.workdir = kept.cluster_dir("gpu-prod"), kept.cluster_dir("gpu-eu")
    aws, gcp = object.__new__(LazyAws), object.__new__(LazyGce)
    aws.port, aws.prices_port, gcp.port = kept.ports["aws"], kept.ports["aws_prices"], kept.ports["gcp"]
    azure, prom = object.__new__(LazyAzure), object.__new__(LazyPrometheus)
    azure.port, azure.ca_path, prom.port = kept.ports["azure"], str(kept.azure_ca), kept.ports["prom"]
    config = demo_config(kube=kube, kube_edge=edge, registry=LazyRegistry(kept.registry), prometheus=prom,
                         aws=aws, gcp=gcp, azure=azure)

    def first_use(source: str) -> Callable[[], None]:
        def check() -> None:
            if not running(kept.pid, kept.create_time):
                raise BackendUnavailable(f"{source}: the demo kept by `cockpit demo up` (pid {kept.pid}) has "
                                         "stopped; run `cockpit demo down`, then `cockpit demo up` again")
            if source in kept.errors:
                raise BackendUnavailable(kept.errors[source])
            if source == "aws":
                dummy_credentials()  # moto accepts any; boto3 needs some to sign (this process only)
            elif source == "azure":
                os.environ[TOKEN_ENV] = AZURE_TOKEN  # the bearer token the kept fake accepts

        return check

    return replace(config, prepare={s.name: first_use(s.name) for s in config.sources if s.name in config.prepare})


# -- the keeper --------------------------------------------------------------------------------------
def keeper(where: Path) -> int:
    """Start every demo emulator (as `cockpit --demo` would on first use), write the state file,
    and keep them until SIGTERM (or SIGINT)."""
    import logging

    from cockpit.sandbox import LazyCluster, LazyRegistry, demo_config, stopping
    from cockpit.sandbox.aws import LazyAws
    from cockpit.sandbox.azure import LazyAzure
    from cockpit.sandbox.gcp import LazyGce
    from cockpit.sandbox.prom import LazyPrometheus

    logging.basicConfig(level=log_level(os.environ.get("COCKPIT_LOG_LEVEL")),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda _s, _f: stop.set())
    kube, edge = LazyCluster(), LazyCluster("edge")
    kube.workdir, edge.workdir = where / "gpu-prod", where / "gpu-eu"
    azure = LazyAzure()
    azure.ca_path = str(where / "azure-ca.pem")
    aws, gcp, prom = LazyAws(), LazyGce(), LazyPrometheus()
    config = demo_config(kube=kube, kube_edge=edge, registry=LazyRegistry(where / "registry.db"),
                         prometheus=prom, aws=aws, gcp=gcp, azure=azure)
    errors = _start_all(config)
    _write_kubeconfig(where / "kubeconfig", {"gpu-prod": kube.kubeconfig, "gpu-eu": edge.kubeconfig})
    me = _psutil().Process()
    children = tuple((c.pid, c.create_time()) for c in me.children(recursive=True))
    kept = Kept(where, os.getpid(), me.create_time(), datetime.now(UTC).isoformat(timespec="seconds"),
                {"aws": aws.port, "aws_prices": aws.prices_port, "gcp": gcp.port, "azure": azure.port,
                 "prom": prom.port}, errors, children)
    tmp = where / "state.json.tmp"
    tmp.write_text(json.dumps(kept.to_json(), indent=2), encoding="utf-8")
    os.replace(tmp, where / "state.json")  # whole or absent: a reader never sees half a file
    print(f"keeper {os.getpid()}: up; errors: {errors or 'none'}", flush=True)
    while not stop.wait(1.0):
        pass
    print(f"keeper {os.getpid()}: stopping", flush=True)
    (where / "state.json").unlink(missing_ok=True)
    stopping.stop_all()
    return 0


def _start_all(config: Config) -> dict[str, str]:
    """Each source's prepare hook at once (the hub runs them in its source threads); a source that
    cannot start is named with why, and the others stay up."""
    errors: dict[str, str] = {}

    def one(name: str, prepare: Callable[[], None]) -> None:
        try:
            prepare()
        except CockpitError as e:
            errors[name] = e.message
        except Exception as e:  # an emulator's own failure: kept as its source's error, not a crash
            errors[name] = f"{name}: the demo's emulator failed to start: {type(e).__name__}: {e}"

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in config.prepare.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(sorted(errors.items()))


def _write_kubeconfig(path: Path, clusters: dict[str, Path]) -> None:
    """One kubeconfig with both fakes: contexts `gpu-prod` and `gpu-eu` (admin) and `NAME-viewer`
    (the RBAC-limited user), `gpu-prod` current."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [],
                              "users": [], "contexts": [], "current-context": next(iter(clusters))}
    for name, source in clusters.items():
        try:
            one = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # that cluster did not start: its error is in the state file
        merged["clusters"].append({"name": name, "cluster": one["clusters"][0]["cluster"]})
        for user in one["users"]:
            context = name if user["name"] == "admin" else f"{name}-{user['name']}"
            merged["users"].append({"name": context, "user": user["user"]})
            merged["contexts"].append({"name": context, "context": {"cluster": name, "user": context,
                                                                    "namespace": "default"}})
    path.write_text(json.dumps(merged, indent=2), encoding="utf-8")
    path.chmod(0o600)


# -- demo up / demo down -----------------------------------------------------------------------------
def demo_command(words: list[str], out: IO[str], err: IO[str]) -> int:
    """`cockpit demo up|down|status`."""
    verb = words[0] if len(words) == 1 else None
    if verb == "up":
        return up(out, err)
    if verb == "down":
        return down(out, err)
    if verb == "status":
        kept = live_state()
        if kept is None:
            print("cockpit demo: not up (`cockpit demo up` starts it)", file=out)
            return 1
        from cockpit.sandbox.keep_text import instructions

        print(instructions(kept), file=out)
        for why in kept.errors.values():
            print(f"cockpit demo: {why}", file=err)
        return 0
    print("usage: cockpit demo up | cockpit demo down | cockpit demo status", file=err)
    return 2


def up(out: IO[str], err: IO[str]) -> int:
    from cockpit.sandbox.keep_text import instructions

    where = keep_dir()
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(where.parent / "demo-up.lock"):
        kept = live_state()
        if kept is not None:
            print(f"cockpit demo: already up (pid {kept.pid}, since {kept.started}); `cockpit demo down` "
                  "stops it", file=err)
            print(instructions(kept), file=out)
            return 0
        shutil.rmtree(where, ignore_errors=True)  # what a keeper that died left behind
        where.mkdir(mode=0o700)
        print("cockpit demo: starting the demo's emulators (Kubernetes, MLflow, EC2, Compute Engine, Azure, "
              "Prometheus)…", file=err, flush=True)
        with (where / "keeper.log").open("wb") as log:
            child = subprocess.Popen([sys.executable, "-m", "cockpit.sandbox.keep", str(where)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, close_fds=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while (kept := read_state(where)) is None or kept.pid != child.pid:
            if child.poll() is not None:
                print(f"cockpit demo: the keeper exited at start: {_last_line(where / 'keeper.log')}", file=err)
                return 1
            if time.monotonic() > deadline:
                _kill_group(child.pid)
                print(f"cockpit demo: the emulators did not start within {START_TIMEOUT_S:g}s; see "
                      f"{where / 'keeper.log'}", file=err)
                return 1
            time.sleep(0.2)
    print(instructions(kept), file=out)
    for why in kept.errors.values():
        print(f"cockpit demo: {why}", file=err)
    return 1 if kept.errors else 0


def down(out: IO[str], err: IO[str]) -> int:
    where = keep_dir()
    with _locked(where.parent / "demo-up.lock") if where.parent.is_dir() else nullcontext():
        kept = read_state(where)
        if kept is None or not running(kept.pid, kept.create_time):
            shutil.rmtree(where, ignore_errors=True)
            print("cockpit demo: not up", file=out)
            return 0
        os.kill(kept.pid, signal.SIGTERM)  # the keeper stops its emulators, then ends
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while running(kept.pid, kept.create_time) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running(kept.pid, kept.create_time):
            _kill_group(kept.pid)
        for pid, started in kept.children:  # moto and Prometheus: gone with their keeper, or ended here
            if running(pid, started):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(where, ignore_errors=True)
    print(f"cockpit demo: stopped (pid {kept.pid})", file=out)
    return 0


def _kill_group(pid: int) -> None:
    """The keeper leads its own session: its process group holds it and its emulators."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1] if lines else "no output"


class _locked:
    """An exclusive lock on `path` (two `demo up` at once start one keeper)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock


if __name__ == "__main__":
    sys.exit(keeper(Path(sys.argv[1])))
