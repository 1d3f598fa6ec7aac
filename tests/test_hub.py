"""The hub: lazy backends, timeouts against a source that hangs, and health."""

from __future__ import annotations

import threading

import pytest

from cockpit.config import SourceConfig
from cockpit.contracts import ANY_SOURCE, MACHINES, SERIES, BackendTimeout, BackendUnavailable, BadInput
from cockpit.hub import Hub
from cockpit.model import HealthState
from tests.conftest import FIXED_NOW, with_sources


def test_backend_is_built_only_when_used(demo_config) -> None:  # type: ignore[no-untyped-def]
    hub = Hub(demo_config)
    assert all(h.state is HealthState.UNKNOWN for h in hub.health_all())
    hub.call("rack-a", MACHINES, lambda b: b.ping())
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
        hub.call("stuck", MACHINES, ask)
    # the caller has its answer while the call it gave up on still hangs on the socket: the
    # timeout, not the source, ended the wait (no clock is read: a slow machine cannot fail it)
    assert not answered.is_set()
    h = hub.health("stuck")
    assert h.state is HealthState.DEGRADED and "no answer" in (h.reason or "")
    # the other sources are unaffected
    results = hub.call_many(["rack-a", "stuck"], MACHINES, lambda b: b.list_machines())
    assert len(results["rack-a"]) == 6  # type: ignore[arg-type]
    assert isinstance(results["stuck"], BackendTimeout)
    # a call that returns only when the test lets it: nothing but the timeout can end the wait
    release = threading.Event()
    with pytest.raises(BackendTimeout, match=r"^rack-a: no answer within 0.2s"):
        hub.call("rack-a", ANY_SOURCE, lambda b: release.wait(), timeout=0.2)
    release.set()
    hub.close()


def test_broken_source_is_down_with_reason(demo_config) -> None:  # type: ignore[no-untyped-def]
    cfg = with_sources(demo_config, SourceConfig("gone", "libvirt", settings={"uri": "test:///no/such/file.xml"}))
    hub = Hub(cfg)
    with pytest.raises(BackendUnavailable):
        hub.call("gone", MACHINES, lambda b: b.ping())
    assert hub.health("gone").state is HealthState.DOWN
    assert "cannot open test:///no/such/file.xml" in (hub.health("gone").reason or "")


def test_hub_refuses_a_role_the_source_does_not_play(demo_config) -> None:  # type: ignore[no-untyped-def]
    """Asking a libvirt host for Prometheus series is refused in one line, before any backend is
    built or asked, and the source's health is left alone."""
    hub = Hub(demo_config)
    asked: list[object] = []
    with pytest.raises(BadInput) as refused:
        hub.call("rack-a", SERIES, lambda b: asked.append(b))
    assert str(refused.value) == "rack-a: a libvirt source has no series role (prometheus sources have it)"
    assert "\n" not in str(refused.value) and refused.value.exit_code == 2
    assert asked == [] and hub.health("rack-a").state is HealthState.UNKNOWN
    got = hub.call_many(["rack-a"], SERIES, lambda b: b.ping())  # a gather names it among the failures
    assert isinstance(got["rack-a"], BadInput)
    assert hub.call("rack-a", ANY_SOURCE, lambda b: b.source) == "rack-a"  # every kind plays ANY_SOURCE
    hub.close()


def test_health_says_since_when_a_source_is_in_its_state(demo_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`since` moves when the state changes and holds while it stays, on the hub's own clock; the
    source fails and recovers for real (its libvirt file is missing, then appears)."""
    import shutil
    from datetime import timedelta

    from cockpit.sandbox import LIBVIRT_DIR

    host = tmp_path / "late.xml"
    cfg = with_sources(demo_config, SourceConfig("late", "libvirt", settings={"uri": f"test://{host}"}))
    clock = [FIXED_NOW]
    hub = Hub(cfg, now=lambda: clock[0])
    first = hub.health("late")
    assert first.state is HealthState.UNKNOWN and first.since is None
    assert first.describe() == "never answered"

    with pytest.raises(BackendUnavailable):
        hub.call("late", MACHINES, lambda b: b.ping())
    down = hub.health("late")
    assert down.state is HealthState.DOWN and down.since == FIXED_NOW and down.as_of is None
    assert down.describe().startswith("down since 09:30:00: ")  # conftest pins TZ=UTC
    assert f"cannot open test://{host}" in down.describe()
    assert down.describe(why=False) == "down since 09:30:00"  # the status bar's few words

    clock[0] = FIXED_NOW + timedelta(minutes=1)
    with pytest.raises(BackendUnavailable):
        hub.call("late", MACHINES, lambda b: b.ping())
    assert hub.health("late").since == FIXED_NOW  # still down: since when it went down, not the last try

    shutil.copy(LIBVIRT_DIR / "rack-a.xml", host)
    clock[0] = FIXED_NOW + timedelta(minutes=2)
    hub.call("late", MACHINES, lambda b: b.ping())
    ok = hub.health("late")
    assert ok.state is HealthState.OK and ok.since == clock[0] and ok.as_of == clock[0]
    assert ok.describe() == "ok"

    clock[0] = FIXED_NOW + timedelta(minutes=3)
    hub.call("late", MACHINES, lambda b: b.ping())
    again = hub.health("late")
    assert again.since == FIXED_NOW + timedelta(minutes=2) and again.as_of == clock[0]
    hub.close()
