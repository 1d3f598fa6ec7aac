"""The libvirt backend: one connection per source, guarded by a lock, errors translated.

One connection per cockpit process matters for the test driver (each open is a fresh copy of
the host) and is cheaper over qemu+ssh. Lifecycle events arrive through libvirt's default
event loop, run in one daemon thread for the whole process.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from backends._lazy import require
from backends.libvirt import templates
from backends.libvirt.translate import (
    EVENT_STARTED,
    EVENT_STOPPED,
    DomainXml,
    PciDevice,
    gpu_model,
    host_gpus,
    parse_domain,
    parse_nodedev,
    state_of,
    to_machine,
)
from cockpit.contracts import (
    BackendError,
    BackendUnavailable,
    BadInput,
    Conflict,
    NotFound,
    Unsubscribe,
    Unsupported,
)
from cockpit.model import HostGpu, Machine, ProvisionSpec, Template

LISTED_FRESH_S = 2.0
"""How long the GPU holders read by list_machines answer host_gpus."""
DEVICES_FRESH_S = 60.0
"""How long the host's PCI device list is kept (GPUs are not hot-plugged every second)."""

_event_loop_lock = threading.Lock()
_event_loop_started = False


def _libvirt() -> Any:
    return require("libvirt", "libvirt", " (it builds from source: apt-get install libvirt-dev pkg-config gcc)")


def _ensure_event_loop(lv: Any) -> None:
    """libvirt needs its event loop registered before a connection opens, then run forever."""
    global _event_loop_started
    with _event_loop_lock:
        if _event_loop_started:
            return
        lv.registerErrorHandler(lambda _ctx, _err: None, None)  # errors come back as exceptions
        lv.virEventRegisterDefaultImpl()

        def loop() -> None:
            while True:
                lv.virEventRunDefaultImpl()

        threading.Thread(target=loop, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


class LibvirtBackend:
    kind = "libvirt"

    def __init__(self, source: str, *, uri: str, location: str | None = None, read_only: bool = False,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lv = _libvirt()
        self.monotonic = monotonic
        """The clock the short-lived caches below are timed by (a test gives its own)."""
        _ensure_event_loop(self._lv)
        self.source = source
        self.uri = uri
        self._lock = threading.RLock()
        self._reserve_lock = threading.Lock()
        self._reserved: dict[str, str] = {}  # PCI address -> domain being provisioned
        self._cpu: dict[str, tuple[float, int]] = {}
        self._started: dict[str, datetime] = {}
        self._devices: dict[str, PciDevice] | None = None
        self._devices_at: float | None = None  # None: never read
        self._listed: tuple[float, dict[str, tuple[str, bool]]] | None = None  # None: no listing to reuse
        self._callbacks: list[int] = []
        parts = urlsplit(uri)
        if parts.scheme == "test" and parts.path not in ("", "/default") and not Path(parts.path).is_file():
            # checked here because libxml2 would print its own complaint straight onto the terminal
            raise BackendUnavailable(f"{source}: cannot open {uri}: no such file {parts.path}")
        try:
            self._conn = self._lv.openReadOnly(uri) if read_only else self._lv.open(uri)
        except self._lv.libvirtError as e:
            raise BackendUnavailable(f"{source}: cannot open {uri}: {_msg(e)}") from None
        self.location = location or urlsplit(uri).hostname or self._conn.getHostname()
        self._domain_type = "test" if self._conn.getType().lower() == "test" else "kvm"

    # -- reading -----------------------------------------------------------------------------
    def ping(self) -> None:
        with self._guard():
            self._conn.getLibVersion()

    def list_machines(self) -> Sequence[Machine]:
        with self._guard():
            devices = self._pci_devices()
            machines = [self._machine(d, devices) for d in self._conn.listAllDomains(0)]
            holders: dict[str, tuple[str, bool]] = {}
            for m in machines:
                for g in m.gpus:
                    if g.pci_address and (g.pci_address not in holders or m.state.is_on):
                        holders[g.pci_address] = (m.name, m.state.is_on)
            self._listed = (self.monotonic(), holders)
            return machines

    def get_machine(self, name: str) -> Machine:
        with self._guard(name):
            return self._machine(self._conn.lookupByName(name), self._pci_devices())

    def describe(self, name: str) -> str:
        with self._guard(name):
            return str(self._conn.lookupByName(name).XMLDesc(0))

    def host_gpus(self) -> Sequence[HostGpu]:
        """Host GPUs and their holders. A poll asks for machines and then for this: the holders
        the machine list just read are reused for LISTED_FRESH_S instead of reading every domain's
        XML a second time (a round trip each over qemu+ssh); every change made through this
        backend, and every lifecycle event, forgets them. Conflict checks never use this."""
        with self._guard():
            now = self.monotonic()
            if self._devices_at is None or now - self._devices_at > DEVICES_FRESH_S:
                self._devices = None
            listed = self._listed
            holders = listed[1] if listed is not None and now - listed[0] <= LISTED_FRESH_S else self._holders()
            return host_gpus(self.source, self._pci_devices(), holders)

    def templates(self) -> Sequence[Template]:
        return [t.info for t in templates.available()]

    # -- lifecycle ---------------------------------------------------------------------------
    def act(self, name: str, action: str) -> Machine:
        with self._guard(name), self._changing():
            dom = self._conn.lookupByName(name)
            state = int(dom.state()[0])
            allowed = _ALLOWED_FROM.get(action)
            if allowed is not None and state not in allowed:
                raise Conflict(f"{self.source}/{name}: cannot {action}: it is {state_of(state)[1]}")
            if action == "start":
                self._check_gpus_free(parse_domain(dom.XMLDesc(0)), exclude=name)
                dom.create()
                self._started[dom.UUIDString()] = datetime.now(UTC)
            elif action == "stop":
                dom.shutdown()
            elif action == "reboot":
                dom.reboot(0)
            elif action == "force-off":
                dom.destroy()
            elif action == "suspend":
                dom.suspend()
            elif action == "resume":
                dom.resume()
            else:
                raise Unsupported(f"{self.source}: libvirt has no action {action!r}")
            return self._machine(dom, self._pci_devices())

    def destroy(self, name: str, remove_storage: bool) -> str:
        lv = self._lv
        with self._guard(name), self._changing():
            dom = self._conn.lookupByName(name)
            xml = str(dom.XMLDesc(0))
            if dom.isActive():
                dom.destroy()
            if remove_storage:
                for disk in parse_domain(xml).disks:
                    if disk.device == "disk" and disk.source.startswith("/"):
                        with contextlib.suppress(lv.libvirtError):
                            self._conn.storageVolLookupByPath(disk.source).delete(0)
            flags = (lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | lv.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                     | lv.VIR_DOMAIN_UNDEFINE_NVRAM)
            try:
                dom.undefineFlags(flags)
            except lv.libvirtError:
                dom.undefine()
            self._cpu.pop(dom.UUIDString(), None)
            return xml

    # -- provisioning ------------------------------------------------------------------------
    def check_provision(self, spec: ProvisionSpec) -> list[str]:
        with self._guard():
            return self._check_provision(spec)

    def provision(self, spec: ProvisionSpec) -> Machine:
        tpl = templates.load(spec.template)
        with self.reserve_gpus(spec.name, spec.gpus), self._guard(spec.name), self._changing():
            self._check_provision(spec)
            pool = self._pool(tpl.pool)
            gib = spec.disk_gib or tpl.info.disk_gib
            vol = pool.createXML(templates.volume_xml(f"{spec.name}.qcow2", gib), 0)
            try:
                xml = templates.render(tpl, spec, domain_type=self._domain_type, disk_path=vol.path())
                dom = self._conn.defineXML(xml)
                if spec.start:
                    dom.create()
                    self._started[dom.UUIDString()] = datetime.now(UTC)
            except Exception:
                with contextlib.suppress(Exception):
                    vol.delete(0)
                raise
            return self._machine(dom, self._pci_devices())

    @contextlib.contextmanager
    def reserve_gpus(self, name: str, addresses: Sequence[str]) -> Iterator[None]:
        """Hold PCI addresses for a domain being provisioned, so a second provision cannot take them."""
        with self._reserve_lock:
            for addr in addresses:
                holder = self._reserved.get(addr)
                if holder is not None and holder != name:
                    raise Conflict(f"{self.source}: GPU {addr} is being given to {holder!r}, which is "
                                   "being provisioned right now")
            for addr in addresses:
                self._reserved[addr] = name
        try:
            yield
        finally:
            with self._reserve_lock:
                for addr in addresses:
                    if self._reserved.get(addr) == name:
                        del self._reserved[addr]

    def _check_provision(self, spec: ProvisionSpec) -> list[str]:
        tpl = templates.load(spec.template)
        try:
            self._conn.lookupByName(spec.name)
        except self._lv.libvirtError as e:
            if e.get_error_code() != self._lv.VIR_ERR_NO_DOMAIN:
                raise
        else:
            raise Conflict(f"{self.source}: a machine named {spec.name!r} already exists")
        self._pool(tpl.pool)
        if len(set(spec.gpus)) != len(spec.gpus):
            raise BadInput("--gpu: the same PCI address is given twice")
        devices = self._pci_devices()
        if devices:
            for addr in spec.gpus:
                dev = devices.get(addr)
                if dev is None or not dev.is_gpu:
                    holders = self._holders()
                    free = [a for a, d in sorted(devices.items())
                            if d.is_gpu and not holders.get(a, ("", False))[1]]
                    raise NotFound(f"{self.source}: {addr} is not a GPU on this host (free GPUs: "
                                   f"{', '.join(free) or 'none'})")
        with self._reserve_lock:
            for addr in spec.gpus:
                holder = self._reserved.get(addr)
                if holder is not None and holder != spec.name:
                    raise Conflict(f"{self.source}: GPU {addr} is being given to {holder!r}, which is "
                                   "being provisioned right now")
        return self._check_gpus_free(
            DomainXml(spec.name, "", 0, 0, spec.gpus, (), (), (), None), exclude=spec.name)

    def _check_gpus_free(self, dom: DomainXml, exclude: str) -> list[str]:
        """Refuse GPUs a running domain holds; warn about ones a stopped domain also lists."""
        warnings = []
        holders = self._holders(exclude=exclude)
        devices = self._pci_devices()
        for addr in dom.hostdevs:
            holder = holders.get(addr)
            if holder is None:
                continue
            other, running = holder
            model = gpu_model(devices[addr].product if addr in devices else None, addr)
            if running:
                raise Conflict(f"{self.source}: GPU {addr} ({model}) is in use by running machine "
                               f"{self.source}/{other}; stop it first or choose another GPU")
            warnings.append(f"GPU {addr} ({model}) is also assigned to stopped machine {self.source}/{other}; "
                            "only one of them can run at a time")
        return warnings

    def _holders(self, exclude: str | None = None) -> dict[str, tuple[str, bool]]:
        holders: dict[str, tuple[str, bool]] = {}
        for d in self._conn.listAllDomains(0):
            if d.name() == exclude:
                continue
            active = bool(d.isActive())
            for addr in parse_domain(d.XMLDesc(0)).hostdevs:
                if addr not in holders or (active and not holders[addr][1]):
                    holders[addr] = (d.name(), active)
        return holders

    def _pool(self, name: str) -> Any:
        try:
            return self._conn.storagePoolLookupByName(name)
        except self._lv.libvirtError:
            pools = ", ".join(p.name() for p in self._conn.listAllStoragePools(0)) or "none"
            raise NotFound(f"{self.source}: storage pool {name!r} not found (pools: {pools})") from None

    # -- events ------------------------------------------------------------------------------
    def watch(self, on_change: Callable[[str], None]) -> Unsubscribe | None:
        lv = self._lv

        def lifecycle(_conn: Any, dom: Any, event: int, _detail: int, _opaque: Any) -> None:
            self._forget()  # a change made elsewhere (virsh, another cockpit) moves GPU holders too
            if event == EVENT_STARTED:
                self._started[dom.UUIDString()] = datetime.now(UTC)
            elif event == EVENT_STOPPED:
                self._started.pop(dom.UUIDString(), None)
            on_change(dom.name())

        try:
            with self._lock:
                cb = self._conn.domainEventRegisterAny(None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle, None)
        except lv.libvirtError:
            return None  # this driver has no events: the caller polls
        self._callbacks.append(cb)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(lv.libvirtError, KeyError):
                if cb in self._callbacks:  # once: close() must not deregister it again
                    self._callbacks.remove(cb)
                    self._conn.domainEventDeregisterAny(cb)

        return unsubscribe

    def close(self) -> None:
        with self._lock, contextlib.suppress(self._lv.libvirtError):
            for cb in self._callbacks:
                # KeyError: libvirt-python's own bookkeeping already forgot the id
                with contextlib.suppress(self._lv.libvirtError, KeyError):
                    self._conn.domainEventDeregisterAny(cb)
            self._callbacks.clear()
            self._conn.close()

    # -- internals ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Around every change: the GPU holders the last listing read are forgotten, before and
        after (also when the change fails half-way), so that no read answers from before it."""
        self._forget()
        try:
            yield
        finally:
            self._forget()

    def _forget(self) -> None:
        self._listed = None

    @contextlib.contextmanager
    def _guard(self, name: str | None = None) -> Iterator[None]:
        """Serialise use of the connection and turn libvirt errors into cockpit's typed errors."""
        lv = self._lv
        with self._lock:
            try:
                yield
            except lv.libvirtError as e:
                raise self._translate(e, name) from None

    def _translate(self, e: Any, name: str | None) -> BackendError:
        lv = self._lv
        code = e.get_error_code()
        what = f"{self.source}/{name}" if name else self.source
        if code == lv.VIR_ERR_NO_DOMAIN:
            return NotFound(f"{what}: no such machine")
        if code in (lv.VIR_ERR_OPERATION_INVALID, lv.VIR_ERR_OPERATION_FAILED):
            return Conflict(f"{what}: {_msg(e)}")
        if code in (lv.VIR_ERR_NO_SUPPORT, lv.VIR_ERR_OPERATION_UNSUPPORTED):
            return Unsupported(f"{what}: {_msg(e)}")
        alive = True
        with contextlib.suppress(Exception):
            alive = bool(self._conn.isAlive())
        if not alive or code in (lv.VIR_ERR_SYSTEM_ERROR, lv.VIR_ERR_RPC, lv.VIR_ERR_NO_CONNECT):
            return BackendUnavailable(f"{self.source}: connection lost: {_msg(e)}")
        return BackendError(f"{what}: {_msg(e)}")

    def _pci_devices(self) -> dict[str, PciDevice]:
        if self._devices is None:
            devices: dict[str, PciDevice] = {}
            try:
                listed = self._conn.listAllDevices(self._lv.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)
            except self._lv.libvirtError:
                listed = []  # no node device driver on this connection: GPUs keep their PCI names
            for dev in listed:
                parsed = parse_nodedev(dev.XMLDesc(0))
                if parsed is not None:
                    devices[parsed.address] = parsed
            self._devices = devices
            self._devices_at = self.monotonic()
        return self._devices

    def _machine(self, dom: Any, devices: dict[str, PciDevice]) -> Machine:
        parsed = parse_domain(dom.XMLDesc(0))
        state, _max_mem, _mem, _ncpu, cpu_time = dom.info()
        uid = parsed.uuid
        addresses: tuple[str, ...] = ()
        cpu_percent = None
        if state in (1, 2, 3):
            addresses = self._addresses(dom)
            now = self.monotonic()
            prev = self._cpu.get(uid)
            if prev is not None and now > prev[0] and parsed.vcpus:
                cpu_percent = max(0.0, min(100.0, (cpu_time - prev[1]) / ((now - prev[0]) * 1e9 * parsed.vcpus) * 100))
            self._cpu[uid] = (now, cpu_time)
        else:
            self._cpu.pop(uid, None)
            self._started.pop(uid, None)
        started = self._started.get(uid) or self._pid_file_start(parsed.name)
        return to_machine(source=self.source, location=self.location, dom=parsed, state_code=state,
                          devices=devices, addresses=addresses, cpu_time_ns=cpu_time, cpu_percent=cpu_percent,
                          started_at=started)

    def _addresses(self, dom: Any) -> tuple[str, ...]:
        try:
            ifaces = dom.interfaceAddresses(self._lv.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0) or {}
        except self._lv.libvirtError:
            return ()
        out = []
        for iface in ifaces.values():
            for a in iface.get("addrs") or []:
                if a.get("addr"):
                    out.append(str(a["addr"]))
        return tuple(out)

    def _pid_file_start(self, name: str) -> datetime | None:
        """For a local qemu driver, the domain's pid file was written when it started."""
        parts = urlsplit(self.uri)
        if not parts.scheme.startswith("qemu") or parts.hostname:
            return None
        base = Path("/run/libvirt/qemu") if parts.path == "/system" else (
            Path(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / "libvirt" / "qemu" / "run")
        try:
            return datetime.fromtimestamp((base / f"{name}.pid").stat().st_mtime, UTC)
        except OSError:
            return None


# virDomainState codes an action may start from (1 running, 2 blocked, 3 paused, 5 shut off,
# 6 crashed, 7 pmsuspended); checked first so every driver gives the same clear refusal.
_ALLOWED_FROM: dict[str, frozenset[int]] = {
    "start": frozenset({5, 6}),
    "stop": frozenset({1, 2, 3, 7}),
    "reboot": frozenset({1, 2}),
    "force-off": frozenset({1, 2, 3, 4, 6, 7}),
    "suspend": frozenset({1, 2}),
    "resume": frozenset({3, 7}),
}


def _msg(e: Any) -> str:
    text = str(e.get_error_message() or e)
    return text.splitlines()[0] if text else "libvirt error"


if TYPE_CHECKING:  # the roles cockpit.providers gives "libvirt": mypy checks the class against each role's Protocol
    from cockpit.contracts import MachineBackend

    _machines: type[MachineBackend] = LibvirtBackend
