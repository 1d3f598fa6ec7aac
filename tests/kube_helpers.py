"""A seeded Kubernetes fake per test, a hub on it, and kubectl to read back what changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from cockpit.sandbox.kube.server import KubeFake

kubectl_missing = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def kubectl(kube: KubeFake, *args: str, context: str = "admin") -> str:
    r = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "--context", context, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def kget(kube: KubeFake, *args: str) -> Any:
    return json.loads(kubectl(kube, "get", *args, "-o", "json"))


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `check()` returns something truthy (a watch delivers changes asynchronously)."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def seeded_fake(workdir: Any, now: Any) -> KubeFake:
    """The demo cluster on a fixed clock (ages on screen do not depend on the day the test runs)."""
    from cockpit.sandbox.kube import store
    from cockpit.sandbox.kube.seed import seed

    store.CLOCK[0] = lambda: now
    fake = KubeFake(workdir).start()
    seed(fake)
    return fake


def reset_clock() -> None:
    from cockpit.sandbox.kube import store

    store.CLOCK[0] = store._wall_clock
