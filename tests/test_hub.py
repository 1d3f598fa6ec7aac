"""The hub: lazy backends, timeouts against a source that hangs, and health."""

from __future__ import annotations

import threading

import pytest

from cockpit.config import SourceConfig
from cockpit.contracts import BackendTimeout, BackendUnavailable
from cockpit.hub import Hub
from cockpit.model import HealthState
from tests.conftest import FIXED_NOW, with_sources


def test_backend_is_built_only_when_used(demo_config) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(demo_config)
    assert all(h.state is HealthState.UNKNOWN for h in hub.health_all())
    hub.call("rack-a", lambda b: b.ping())
    assert hub.health("rack-a").state is HealthState.OK
    assert hub.health("rack-b").state is HealthState.UNKNOWN
    hub.close()


def test_hanging_source_times_out_and_is_degraded(demo_config, hanging_socket) -> None:  # type: ignore[no-untyped-def]
    cfg = with_sources(demo_config, SourceConfig("stuck", "libvirt", timeout_seconds=0.5,
                                                 settings={"uri": hanging_socket.uri}))
    hub = Hub(cfg, now=lambda: FIXED_NOW)
    answered = threading.Event()

    def ask(b):  # type: ignore[no-untyped-def]
        try:
            return b.list_machines()
        finally:
            answered.set()

    with pytest.raises(BackendTimeout, match=r"stuck: no answer within 0.5s"):
        hub.call("stuck", ask)
    # the caller has its answer while the call it gave up on still hangs on the socket: the
    # timeout, not the source, ended the wait (no clock is read: a slow machine cannot fail it)
    assert not answered.is_set()
    h = hub.health("stuck")
    assert h.state is HealthState.DEGRADED and "no answer" in (h.reason or "")
    # the other sources are unaffected
    results = hub.call_many(["rack-a", "stuck"], lambda b: b.list_machines())
    assert len(results["rack-a"]) == 6  # type: ignore[arg-type]
    assert isinstance(results["stuck"], BackendTimeout)
    # a call that returns only when the test lets it: nothing but the timeout can end the wait
    release = threading.Event()
    with pytest.raises(BackendTimeout, match=r"^rack-a: no answer within 0.2s"):
        hub.call("rack-a", lambda b: release.wait(), timeout=0.2)
    release.set()
    hub.close()


def test_broken_source_is_down_with_reason(demo_config) -> None:  # type: ignore[no-untyped-def]
    cfg = with_sources(demo_config, SourceConfig("gone", "libvirt", settings={"uri": "test:///no/such/file.xml"}))
    hub = Hub(cfg)
    with pytest.raises(BackendUnavailable):
        hub.call("gone", lambda b: b.ping())
    assert hub.health("gone").state is HealthState.DOWN
    assert "cannot open test:///no/such/file.xml" in (hub.health("gone").reason or "")
