"""The Compute Engine and Azure fakes as fixtures: seeded with the demo's instances on the tests'
fixed clock, started on a free port (Azure over https with a fresh trustme CA), stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.sandbox.aws import MotoServer, seed
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, TOKEN_ENV, ArmFake, azure_source, tls
from cockpit.sandbox.azure import seed_demo as seed_azure
from cockpit.sandbox.gcp import DEMO_PROJECT, DEMO_ZONES, GceFake, gcp_source
from cockpit.sandbox.gcp import seed_demo as seed_gce
from tests.conftest import FIXED_NOW

__all__ = ["arm", "creds", "gce", "moto_server"]

OTHER_PROJECT = "ml-serving-demo"
OTHER_SUBSCRIPTION = "0b5c7e9a-1d3f-4a6b-8c0e-2f4a6c8e0b1d"
TOKEN = "test-token-for-the-fake"


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_server(creds: None) -> Iterator[MotoServer]:
    """moto over HTTP with the demo fleet (moto's state is per process: reset first)."""
    server = MotoServer()
    server.reset()
    server.seed_random()  # the same ids and addresses every run: they show at 120 columns
    seed(server.url)
    yield server
    server.reset()
    server.stop()


@pytest.fixture
def gce() -> Iterator[GceFake]:
    fake = GceFake({DEMO_PROJECT: list(DEMO_ZONES[DEMO_PROJECT]), OTHER_PROJECT: ["us-east1-b"]})
    seed_gce(fake, FIXED_NOW)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmFake]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = ArmFake([DEMO_SUBSCRIPTION, OTHER_SUBSCRIPTION])
    fake.token = TOKEN
    fake.start(tls=tls(str(tmp_path / "ca.pem")))
    seed_azure(fake, FIXED_NOW)
    yield fake
    fake.stop()


def gce_settings(fake: GceFake, **extra: object) -> dict[str, object]:
    return dict(gcp_source("gcp", fake.url).settings) | {"max_attempts": 3} | extra


def arm_settings(fake: ArmFake, tmp_path: Path, **extra: object) -> dict[str, object]:
    return dict(azure_source("azure", fake.url, str(tmp_path / "ca.pem")).settings) | extra


class FaultyEc2:
    """moto behind a local proxy that answers as EC2 does under load and when a zone has no spot
    capacity, which moto itself never does: a spot RunInstances gets HTTP 500
    InsufficientInstanceCapacity (when `refuse_spot`), and the next `throttle` DescribeInstances
    get HTTP 503 RequestLimitExceeded."""

    def __init__(self, moto_url: str, refuse_spot: bool = True) -> None:
        import threading
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.refused = 0
        self.refuse_spot = refuse_spot
        self.throttle = 0
        self.throttled = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if b"Action=DescribeInstances&" in body and proxy.throttle > 0:
                    proxy.throttle -= 1
                    proxy.throttled += 1
                    out = (b"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>RequestLimitExceeded"
                           b"</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>cockpit-test"
                           b"</RequestID></Response>")
                    self.send_response(503)
                    self.send_header("Content-Type", "text/xml")
                elif proxy.refuse_spot and b"Action=RunInstances" in body and b"MarketType=spot" in body:
                    proxy.refused += 1
                    out = (b"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>"
                           b"InsufficientInstanceCapacity</Code><Message>We currently do not have sufficient capacity "
                           b"in the Availability Zone you requested.</Message></Error></Errors><RequestID>cockpit-test"
                           b"</RequestID></Response>")
                    self.send_response(500)
                    self.send_header("Content-Type", "text/xml")
                else:
                    request = urllib.request.Request(moto_url + self.path, data=body or None, method=self.command,
                                                     headers={k: v for k, v in self.headers.items()
                                                              if k.lower() != "host"})
                    try:
                        answer = urllib.request.urlopen(request, timeout=30)
                    except urllib.error.HTTPError as refused:  # moto's own errors go through as they are
                        answer = refused
                    with answer:
                        out = answer.read()
                        self.send_response(answer.status)
                        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/xml"))
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
