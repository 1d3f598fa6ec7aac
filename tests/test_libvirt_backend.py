"""The libvirt backend against libvirt's real test driver (a whole fake host, in-process).

Each test reads the change back through libvirt itself (the raw connection), not only through
the backend's own answer.
"""

from __future__ import annotations

import threading

import pytest

from backends.libvirt import create
from backends.libvirt.adapter import LISTED_FRESH_S, LibvirtBackend
from cockpit.contracts import BackendUnavailable, BadInput, Conflict, NotFound
from cockpit.model import MachineState, ProvisionSpec
from cockpit.sandbox import libvirt_uri

VIR_RUNNING, VIR_PAUSED, VIR_SHUTOFF = 1, 3, 5


class FakeClock:
    """A monotonic clock a test moves by hand; it starts where a freshly booted machine's does."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def rack_a():  # type: ignore[no-untyped-def]
    b = create("rack-a", {"uri": libvirt_uri("rack-a"), "location": "gpu-host-a"})
    yield b
    b.close()


def raw_state(backend, name: str) -> int:  # type: ignore[no-untyped-def]
    return int(backend._conn.lookupByName(name).state()[0])


def test_lists_domains_with_gpus_mapped_to_host_pci_names(rack_a) -> None:  # type: ignore[no-untyped-def]
    machines = {m.name: m for m in rack_a.list_machines()}
    assert set(machines) == {"head-01", "login-01", "a100-node-01", "a100-node-02", "a100-node-03", "scratch-01"}
    node = machines["a100-node-01"]
    assert node.state is MachineState.RUNNING
    assert node.vcpus == 32 and node.memory_mib == 240 * 1024
    assert [g.pci_address for g in node.gpus] == ["0000:07:00.0", "0000:0a:00.0", "0000:47:00.0", "0000:4e:00.0"]
    assert {g.model for g in node.gpus} == {"A100 SXM4 80GB"}
    assert node.addresses and node.addresses[0].startswith("10.41.0.")
    assert dict(node.tags) == {"role": "compute", "team": "llm-pretrain"}
    assert node.location == "gpu-host-a"
    assert machines["a100-node-03"].state is MachineState.STOPPED and not machines["a100-node-03"].addresses
    assert machines["scratch-01"].state is MachineState.PAUSED


def test_cpu_percent_needs_two_samples(rack_a) -> None:  # type: ignore[no-untyped-def]
    assert rack_a.get_machine("head-01").cpu_percent is None
    second = rack_a.get_machine("head-01")
    assert second.cpu_percent is not None and 0 <= second.cpu_percent <= 100


@pytest.mark.parametrize(("name", "action", "expected", "raw"), [
    ("a100-node-03", "start", MachineState.RUNNING, VIR_RUNNING),
    ("head-01", "stop", MachineState.STOPPED, VIR_SHUTOFF),
    ("head-01", "force-off", MachineState.STOPPED, VIR_SHUTOFF),
    ("head-01", "suspend", MachineState.PAUSED, VIR_PAUSED),
    ("scratch-01", "resume", MachineState.RUNNING, VIR_RUNNING),
    ("login-01", "reboot", MachineState.RUNNING, VIR_RUNNING),
])
def test_each_lifecycle_action_changes_libvirt_state(rack_a, name, action, expected, raw) -> None:  # type: ignore[no-untyped-def]
    after = rack_a.act(name, action)
    assert after.state is expected
    assert raw_state(rack_a, name) == raw


def test_start_records_uptime(rack_a) -> None:  # type: ignore[no-untyped-def]
    assert rack_a.act("a100-node-03", "start").started_at is not None


def test_invalid_transition_is_a_conflict(rack_a) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="rack-a/a100-node-03"):
        rack_a.act("a100-node-03", "suspend")


def test_unknown_machine_is_not_found(rack_a) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="rack-a/nope: no such machine"):
        rack_a.act("nope", "start")


def test_start_refuses_a_gpu_held_by_a_running_domain(rack_a) -> None:  # type: ignore[no-untyped-def]
    conn = rack_a._conn
    xml = conn.lookupByName("a100-node-03").XMLDesc(0).replace("bus='0xb7'", "bus='0x07'")
    conn.defineXML(xml)  # now a100-node-03 lists 0000:07:00.0, which running a100-node-01 holds
    with pytest.raises(Conflict, match=r"0000:07:00.0 .* in use by running machine rack-a/a100-node-01"):
        rack_a.act("a100-node-03", "start")
    assert raw_state(rack_a, "a100-node-03") == VIR_SHUTOFF


def test_destroy_undefines_and_returns_the_definition(rack_a) -> None:  # type: ignore[no-untyped-def]
    xml = rack_a.destroy("a100-node-02", remove_storage=False)
    assert "<name>a100-node-02</name>" in xml and "0x87" in xml
    assert "a100-node-02" not in [d.name() for d in rack_a._conn.listAllDomains(0)]
    with pytest.raises(NotFound):
        rack_a.get_machine("a100-node-02")


def test_provision_with_free_gpu_defines_domain_and_volume(rack_a) -> None:  # type: ignore[no-untyped-def]
    spec = ProvisionSpec("a100-node-09", "gpu-node", vcpus=8, memory_mib=32768, disk_gib=50,
                         gpus=("0000:b7:00.0",), start=True, tags=(("team", "nlp"),))
    # b7 belongs to stopped a100-node-03: allowed, with a warning
    warnings = rack_a.check_provision(spec)
    assert any("a100-node-03" in w for w in warnings)
    m = rack_a.provision(spec)
    assert m.state is MachineState.RUNNING and m.template == "gpu-node"
    dom = rack_a._conn.lookupByName("a100-node-09")
    xml = dom.XMLDesc(0)
    assert "<vcpu placement='static'>8</vcpu>" in xml
    assert "bus='0xb7'" in xml
    assert dom.info()[1] == 32768 * 1024
    pool = rack_a._conn.storagePoolLookupByName("default")
    assert "a100-node-09.qcow2" in pool.listVolumes()
    assert pool.storageVolLookupByName("a100-node-09.qcow2").info()[1] == 50 * 1024**3
    assert dict(m.tags) == {"team": "nlp"}


def test_provision_refuses_gpu_of_running_domain_and_changes_nothing(rack_a) -> None:  # type: ignore[no-untyped-def]
    spec = ProvisionSpec("a100-node-10", "gpu-node", gpus=("0000:07:00.0",))
    with pytest.raises(Conflict, match="in use by running machine rack-a/a100-node-01"):
        rack_a.provision(spec)
    assert "a100-node-10" not in [d.name() for d in rack_a._conn.listAllDomains(0)]
    assert "a100-node-10.qcow2" not in rack_a._conn.storagePoolLookupByName("default").listVolumes()


def test_provision_refuses_gpu_reserved_by_another_provision(rack_a) -> None:  # type: ignore[no-untyped-def]
    with rack_a.reserve_gpus("other-node", ["0000:bd:00.0"]), pytest.raises(Conflict, match="being given to 'oth"):
        rack_a.provision(ProvisionSpec("a100-node-11", "gpu-node", gpus=("0000:bd:00.0",)))
    # once the other provision is done, the GPU is free again
    rack_a.provision(ProvisionSpec("a100-node-11", "gpu-node", gpus=("0000:bd:00.0",)))


def test_concurrent_provisions_of_one_gpu_let_exactly_one_win(rack_a) -> None:  # type: ignore[no-untyped-def]
    results: list[str] = []

    def go(name: str) -> None:
        try:
            rack_a.provision(ProvisionSpec(name, "gpu-node", gpus=("0000:bd:00.0",), start=True))
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=go, args=(f"race-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "conflict", "conflict", "ok"]


def test_provision_rejects_unknown_gpu_and_template(rack_a) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match=r"0000:65:00.0 is not a GPU on this host \(free GPUs: 0000:b7"):
        rack_a.check_provision(ProvisionSpec("x", "gpu-node", gpus=("0000:65:00.0",)))
    with pytest.raises(NotFound, match="no template 'nope'"):
        rack_a.check_provision(ProvisionSpec("x", "nope"))
    with pytest.raises(Conflict, match="already exists"):
        rack_a.check_provision(ProvisionSpec("head-01", "cpu-node"))
    with pytest.raises(BadInput, match="twice"):
        rack_a.check_provision(ProvisionSpec("x", "gpu-node", gpus=("0000:b7:00.0", "0000:b7:00.0")))


def test_host_gpus_show_assignment(rack_a) -> None:  # type: ignore[no-untyped-def]
    gpus = {g.pci_address: g for g in rack_a.host_gpus()}
    assert len(gpus) == 8
    assert gpus["0000:07:00.0"].assigned_to == "a100-node-01" and gpus["0000:07:00.0"].assigned_running
    assert gpus["0000:b7:00.0"].assigned_to == "a100-node-03" and not gpus["0000:b7:00.0"].assigned_running
    assert gpus["0000:b7:00.0"].numa_node == 1


def test_lifecycle_events_arrive(rack_a) -> None:  # type: ignore[no-untyped-def]
    seen = threading.Event()
    names: list[str] = []

    def on_change(name: str) -> None:
        names.append(name)
        seen.set()

    unsubscribe = rack_a.watch(on_change)
    assert unsubscribe is not None
    rack_a.act("a100-node-03", "start")
    assert seen.wait(5)
    assert names[0] == "a100-node-03"
    unsubscribe()


def test_broken_uri_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailable, match=r"^broken: cannot open test:///nonexistent/host.xml: no such file"):
        create("broken", {"uri": "test:///nonexistent/host.xml"})
    with pytest.raises(BackendUnavailable, match=r"^broken: cannot open qemu\+unix:///system\?socket=/nonexistent/s"):
        create("broken", {"uri": "qemu+unix:///system?socket=/nonexistent/s"})


def test_templates_are_listed() -> None:
    b = create("rack-b", {"uri": libvirt_uri("rack-b")})
    names = {t.name: t for t in b.templates()}
    assert {"gpu-node", "cpu-node"} <= set(names)
    assert names["gpu-node"].vcpus == 16 and names["gpu-node"].memory_mib == 64 * 1024
    assert b.location == b._conn.getHostname()  # no URI host, no configured location
    b.close()


def test_host_gpus_after_a_listing_agree_with_a_fresh_read(rack_a) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(0.0)
    rack_a.monotonic = clock
    fresh = list(rack_a.host_gpus())
    rack_a.act("a100-node-01", "force-off")
    rack_a.act("a100-node-03", "start")
    rack_a.list_machines()
    reused = list(rack_a.host_gpus())  # the holders the listing just read
    clock.t += LISTED_FRESH_S + 1
    again = list(rack_a.host_gpus())  # read from every domain's XML
    assert reused == again != fresh
    b7 = next(g for g in reused if g.pci_address == "0000:b7:00.0")
    assert (b7.assigned_to, b7.assigned_running) == ("a100-node-03", True)


def test_host_gpus_on_a_machine_booted_this_instant() -> None:
    """time.monotonic() counts from boot: a clock at 0 must not read as "loaded just now"."""
    b = LibvirtBackend("rack-a", uri=libvirt_uri("rack-a"), monotonic=FakeClock(0.0))
    try:
        gpus = {g.pci_address: g for g in b.host_gpus()}  # the very first call
        assert len(gpus) == 8 and gpus["0000:07:00.0"].assigned_to == "a100-node-01"
        assert len(b.list_machines()) == 6
        assert len(b.host_gpus()) == 8
    finally:
        b.close()


@pytest.mark.parametrize("change", ["start", "provision", "destroy"])
def test_our_own_change_is_seen_by_the_next_host_gpus(rack_a, change: str) -> None:  # type: ignore[no-untyped-def]
    """The holders a listing read are reused for a moment; a change made through the backend
    must not be hidden by them (a GPU shown free while a machine holds it is double-booked)."""
    rack_a.monotonic = FakeClock(100.0)  # the clock stands still: the listing stays "fresh"
    before = {g.pci_address: g for g in rack_a.host_gpus()}
    assert (before["0000:b7:00.0"].assigned_to, before["0000:b7:00.0"].assigned_running) == ("a100-node-03", False)
    rack_a.list_machines()
    expected: tuple[str | None, bool]
    if change == "start":
        rack_a.act("a100-node-03", "start")
        expected = ("a100-node-03", True)
    elif change == "provision":
        rack_a.provision(ProvisionSpec("taker", "gpu-node", gpus=("0000:b7:00.0",), start=True))
        expected = ("taker", True)
    else:
        rack_a.destroy("a100-node-03", remove_storage=False)
        expected = (None, False)
    after = {g.pci_address: g for g in rack_a.host_gpus()}
    assert (after["0000:b7:00.0"].assigned_to, after["0000:b7:00.0"].assigned_running) == expected
