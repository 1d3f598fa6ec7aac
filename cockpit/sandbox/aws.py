"""The demo's AWS account: moto's ThreadedMotoServer on a local port, seeded with GPU and CPU
instances in two regions. boto3 talks to it through `endpoint_url`, with dummy credentials that
only this process sees (the demo never reaches real AWS)."""

from __future__ import annotations

import json
import os

from cockpit.config import SourceConfig
from cockpit.sandbox import stopping
from cockpit.sandbox.lazy import LazyService

DEMO_REGIONS = ("us-east-1", "us-west-2")

FLEET: dict[str, tuple[tuple[str, str, bool, bool, dict[str, str]], ...]] = {
    # region: (Name, type, spot, running, tags)
    "us-east-1": (
        ("llm-pretrain-0", "p4d.24xlarge", True, True, {"team": "llm-pretrain", "env": "prod"}),
        ("llm-pretrain-1", "p4d.24xlarge", True, True, {"team": "llm-pretrain", "env": "prod"}),
        ("infer-a10g-1", "g5.xlarge", False, True, {"team": "serving", "env": "prod"}),
        ("h100-dev", "p5.48xlarge", False, False, {"team": "research", "env": "dev"}),
        ("bastion", "t3.large", False, True, {"team": "platform"}),
    ),
    "us-west-2": (
        ("batch-embed", "g5.12xlarge", True, True, {"team": "search", "env": "prod"}),
        ("notebook-l4", "g6.xlarge", False, False, {"team": "research", "env": "dev"}),
    ),
}


def aws_source(name: str, endpoint: str, regions: tuple[str, ...] = DEMO_REGIONS,
               price_endpoint: str | None = None) -> SourceConfig:
    settings = {"regions": list(regions), "endpoint_url": endpoint, "cost_endpoint_url": endpoint, "max_attempts": 3}
    if price_endpoint:
        settings["price_endpoint_url"] = price_endpoint
    return SourceConfig(name, "aws", timeout_seconds=30, colour="amber", label="ec2", settings=settings)


def seed(endpoint: str) -> None:
    """The demo fleet, created through boto3 in a subprocess (`python -m backends.aws.demo`): the
    core never imports a cloud SDK, and boto3's import stays off the UI's thread."""
    import subprocess
    import sys

    from cockpit.contracts import BackendUnavailable

    done = subprocess.run([sys.executable, "-m", "backends.aws.demo", endpoint, json.dumps(FLEET)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendUnavailable(f"the demo EC2 could not be seeded: {tail}")


def dummy_credentials() -> None:
    """boto3 needs credentials to sign; moto accepts any. Only this process's environment."""
    os.environ["AWS_ACCESS_KEY_ID"] = "cockpit-demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "cockpit-demo"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


class MotoServer:
    """moto's server (`python -m moto.server`, a child process: see `cockpit.sandbox.child`) on
    127.0.0.1; a free port unless one is given, with its request log in a throwaway file."""

    def __init__(self, port: int = 0, ready_timeout: float = 60.0) -> None:
        import sys
        import tempfile
        from pathlib import Path

        from cockpit.sandbox.child import Child
        from cockpit.sandbox.lazy import free_port

        workdir = Path(tempfile.mkdtemp(prefix="cockpit-moto-"))
        stopping.remove_at_exit(workdir)
        for attempt in range(3):  # a port of our choosing may be taken before moto binds it: choose again
            chosen = port or free_port()
            self.url = f"http://127.0.0.1:{chosen}"
            self._child = Child("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(chosen)],
                                workdir / "moto.log", cwd=workdir)
            try:
                self._child.start(f"{self.url}/moto-api/", ready_timeout)
                break
            except Exception:
                if port or attempt == 2 or not self._child.exited():
                    raise
        stopping.at_exit(self.stop)

    def reset(self) -> None:
        """Forget every resource (a server shared by several tests keeps its state otherwise)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).close()

    def seed_random(self, value: int = 42) -> None:
        """moto draws instance ids and addresses from its own random generator: seeded, a fleet
        created after this has the same ids and addresses every run (snapshots, screenshots)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/seed?a={value}", method="POST"),
                               timeout=30).close()

    def stop(self) -> None:
        self._child.stop(graceful=False)


class LazyAws(LazyService):
    """The demo's EC2, started and seeded on first use (the hub's prepare hook, after the first
    frame), on a port chosen now so that the source's endpoint is known from the start."""

    server: MotoServer | None = None

    def __init__(self) -> None:
        super().__init__()
        from cockpit.sandbox.lazy import free_port

        self.prices_port = free_port()
        """The Price List API and spot history fake (moto has neither): `cost catalogue refresh`."""

    @property
    def prices_url(self) -> str:
        return f"http://127.0.0.1:{self.prices_port}"

    imports = ("cockpit.prices", "cockpit.sandbox.aws_prices", "cockpit.sandbox.aws_costs")

    def _start(self) -> None:
        from cockpit.prices import bundled
        from cockpit.sandbox.aws_prices import AwsPricesFake

        dummy_credentials()
        server = MotoServer(self.port)
        seed(server.url)
        from cockpit.sandbox.aws_costs import preload_costs

        preload_costs(server.url)
        AwsPricesFake.from_catalogue(bundled()).start(port=self.prices_port)
        self.server = server
