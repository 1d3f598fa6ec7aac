"""psutil for the host, NVML for the GPUs. NVML is initialised once; a machine without the NVIDIA
driver is the NO_DRIVER state with NVML's own reason, never an exception or an empty table."""

from __future__ import annotations

import contextlib
import importlib
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cockpit.model_metrics import GpuProcess, GpuSample, HostSample, LocalSnapshot, NvmlState

MIB = 1 << 20


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LocalBackend:
    kind = "local"

    def __init__(self, source: str) -> None:
        psutil: Any = importlib.import_module("psutil")  # untyped; a core dependency

        self.source = source
        self._psutil = psutil
        psutil.cpu_percent(interval=None)  # the first call primes the counter
        self._primed = time.monotonic()
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._state = NvmlState.ERROR
        self._reason = "not initialised"
        self._init_nvml()

    def _init_nvml(self) -> None:
        try:
            import pynvml  # type: ignore[import-untyped]
        except ImportError:
            self._state, self._reason = NvmlState.NO_DRIVER, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as e:
            missing = isinstance(e, pynvml.NVMLError_LibraryNotFound | pynvml.NVMLError_DriverNotLoaded)
            self._state = NvmlState.NO_DRIVER if missing else NvmlState.ERROR
            self._reason = f"{e} (nvidia-smi works once the NVIDIA driver is installed and loaded)" if missing \
                else f"NVML: {e}"
            return
        self._nvml, self._state, self._reason = pynvml, NvmlState.OK, ""

    def ping(self) -> None:
        return None

    def host(self) -> HostSample:
        ps = self._psutil
        mem = ps.virtual_memory()
        load = ps.getloadavg()[0] if hasattr(ps, "getloadavg") else 0.0
        # a reading over less than a tenth of a second is noise: a one-shot command waits that long
        wait = max(0.0, 0.2 - (time.monotonic() - self._primed))
        cpu = float(ps.cpu_percent(interval=wait or None))
        self._primed = 0.0
        return HostSample(socket.gethostname(), cpu, int(ps.cpu_count() or 0),
                          float(load), int(mem.used / MIB), int(mem.total / MIB))

    def gpus(self) -> tuple[tuple[GpuSample, ...], str, str]:
        nv = self._nvml
        out = []
        with self._lock:
            driver = _text(nv.nvmlSystemGetDriverVersion())
            cuda = nv.nvmlSystemGetCudaDriverVersion_v2() if hasattr(nv, "nvmlSystemGetCudaDriverVersion_v2") else 0
            for i in range(nv.nvmlDeviceGetCount()):
                h = nv.nvmlDeviceGetHandleByIndex(i)
                out.append(self._gpu(nv, i, h))
        return tuple(out), driver, f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else ""

    def _gpu(self, nv: Any, index: int, h: Any) -> GpuSample:
        def opt(fn: Any, *args: Any) -> Any:
            try:
                return fn(h, *args)
            except nv.NVMLError:  # a field this GPU or driver does not report (MIG, vGPU, old drivers)
                return None

        mem = nv.nvmlDeviceGetMemoryInfo(h)
        util = opt(nv.nvmlDeviceGetUtilizationRates)
        power = opt(nv.nvmlDeviceGetPowerUsage)
        limit = opt(nv.nvmlDeviceGetEnforcedPowerLimit)
        temp = opt(nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU)
        mig = opt(nv.nvmlDeviceGetMigMode)
        procs = []
        for kind, fn in (("compute", nv.nvmlDeviceGetComputeRunningProcesses),
                         ("graphics", nv.nvmlDeviceGetGraphicsRunningProcesses)):
            for p in opt(fn) or []:
                used = getattr(p, "usedGpuMemory", None)
                procs.append(GpuProcess(int(p.pid), self._process_name(int(p.pid)),
                                        int(used / MIB) if isinstance(used, int) else None, kind))
        pci = opt(nv.nvmlDeviceGetPciInfo)
        return GpuSample(
            index=index, name=_text(nv.nvmlDeviceGetName(h)), uuid=_text(nv.nvmlDeviceGetUUID(h)),
            utilization=float(util.gpu) if util is not None else None, memory_used_mib=int(mem.used / MIB),
            memory_total_mib=int(mem.total / MIB), power_w=power / 1000 if power is not None else None,
            power_limit_w=limit / 1000 if limit is not None else None, temperature_c=temp,
            mig_mode=bool(mig and mig[0]), processes=tuple(procs),
            pci_bus_id=_text(pci.busId) if pci is not None else "",
        )

    def _process_name(self, pid: int) -> str:
        try:
            return str(self._psutil.Process(pid).name())
        except (self._psutil.Error, OSError):
            return "?"  # another container's process, or gone already

    def snapshot(self) -> LocalSnapshot:
        host = self.host()
        now = datetime.now(UTC)
        if self._state is not NvmlState.OK:
            return LocalSnapshot(self.source, host, self._state, self._reason, as_of=now)
        try:
            gpus, driver, cuda = self.gpus()
        except self._nvml.NVMLError as e:
            return LocalSnapshot(self.source, host, NvmlState.ERROR, f"NVML: {e}", as_of=now)
        return LocalSnapshot(self.source, host, NvmlState.OK, "", driver, cuda, gpus, now)

    def watch(self, on_change: Callable[[str], None]) -> None:
        return None

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(self._nvml.NVMLError):
                self._nvml.nvmlShutdown()


if TYPE_CHECKING:  # the roles cockpit.providers gives "local": mypy checks the class against each role's Protocol
    from cockpit.contracts import LocalMetricsBackend

    _metrics: type[LocalMetricsBackend] = LocalBackend
