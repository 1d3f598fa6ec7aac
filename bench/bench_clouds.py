"""What listing a large cloud account costs cockpit: wall time and CPU of `list_machines` through
the real SDKs (google-cloud-compute, azure-mgmt-compute, boto3) against the local fakes and moto,
with N instances, first call (sizes looked up) and second (cached), and the SDK import and client
set-up that the first use of a source pays.

    .venv/bin/python bench/bench_clouds.py [--instances 2000]

The fakes run in a child process and answer from memory, so the CPU figures are this process's
alone: cockpit's and the SDKs' own cost (HTTP, parsing, translation, paging), not a cloud's latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, TOKEN_ENV, ArmFake, azure_source, tls  # noqa: E402
from cockpit.sandbox.gcp import DEMO_PROJECT, GceFake, gcp_source  # noqa: E402
from cockpit.sandbox.lazy import free_port  # noqa: E402

GCE_TYPES = ("a3-highgpu-8g", "a2-highgpu-1g", "g2-standard-4", "e2-standard-4")
AZ_SIZES = ("Standard_ND96isr_H100_v5", "Standard_NC24ads_A100_v4", "Standard_D4s_v5")


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall ms, CPU ms of this process)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000


def row(name: str, n: int, setup: tuple[Any, float, float], first: tuple[Any, float, float],
        second: tuple[Any, float, float]) -> None:
    assert len(first[0]) == n and len(second[0]) == n, (len(first[0]), n)
    print(f"| {name} | {n} | {setup[1]:.0f} | {first[1]:.0f} / {first[2]:.0f} | {second[1]:.0f} / {second[2]:.0f} |"
          f" {second[2] / n * 1000:.0f} |")


def in_child(serve: Callable[[int], None]) -> tuple[multiprocessing.Process, int]:
    """`serve(port)` in a forked process (it starts a fake and blocks); returns once the port answers."""
    port = free_port()
    proc = multiprocessing.get_context("fork").Process(target=serve, args=(port,), daemon=True)
    proc.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    raise SystemExit("the fake did not start")


def gce(n: int) -> None:
    def serve(port: int) -> None:
        zones = ["us-central1-a", "us-central1-b", "europe-west4-a"]
        fake = GceFake({DEMO_PROJECT: zones})
        for i in range(n):
            fake.add(DEMO_PROJECT, zones[i % 3], f"vm-{i:05d}", GCE_TYPES[i % len(GCE_TYPES)], spot=i % 5 == 0,
                     labels={"team": f"t{i % 7}"})
        fake.start(port)
        time.sleep(3600)

    proc, port = in_child(serve)

    def make() -> Any:
        from backends.gcp import create

        return create("gcp", gcp_source("gcp", f"http://127.0.0.1:{port}").settings)

    setup = timed(make)
    b = setup[0]
    row("Compute Engine (aggregated list, 500 a page)", n, setup, timed(b.list_machines), timed(b.list_machines))
    proc.kill()


def azure(n: int) -> None:
    ca = os.path.join(tempfile.mkdtemp(), "ca.pem")
    os.environ[TOKEN_ENV] = "bench"

    def serve(port: int) -> None:
        fake = ArmFake([DEMO_SUBSCRIPTION])
        fake.token = "bench"
        for i in range(n):
            fake.add(DEMO_SUBSCRIPTION, f"rg-{i % 10}", f"vm-{i:05d}", AZ_SIZES[i % len(AZ_SIZES)],
                     ("eastus", "westus2")[i % 2], spot=i % 4 == 0, tags={"team": f"t{i % 7}"})
        fake.start(port, tls=tls(ca))
        time.sleep(3600)

    proc, port = in_child(serve)

    def make() -> Any:
        from backends.azure import create

        return create("azure", azure_source("azure", f"https://127.0.0.1:{port}", ca).settings)

    setup = timed(make)
    b = setup[0]
    row("Azure (list_all with instance views, 50 a page)", n, setup, timed(b.list_machines), timed(b.list_machines))
    proc.kill()


def aws(n: int) -> None:
    """moto in this process (its state is per process): here the CPU includes moto's."""
    from moto import mock_aws

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_CONFIG_FILE="/nonexistent")
    with mock_aws():
        import boto3  # type: ignore[import-untyped]

        ec2 = boto3.client("ec2", region_name="us-east-1")
        for i in range(0, n, 100):
            ec2.run_instances(ImageId="ami-12c6146b", InstanceType=("g5.xlarge", "p4d.24xlarge", "t3.large")[i % 3],
                              MinCount=min(100, n - i), MaxCount=min(100, n - i))

        def make() -> Any:
            from backends.aws import create

            return create("aws", {"regions": ["us-east-1"]})

        setup = timed(make)
        b = setup[0]
        row("EC2 (moto in this process: CPU includes moto's)", n, setup, timed(b.list_machines),
            timed(b.list_machines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=2000)
    n = parser.parse_args().instances
    print("| source | instances | SDK import + client (ms) | first list wall / CPU (ms) | cached list wall / CPU "
          "(ms) | CPU per instance (µs) |")
    print("|---|---|---|---|---|---|")
    gce(n)
    azure(n)
    aws(n)


if __name__ == "__main__":
    main()
