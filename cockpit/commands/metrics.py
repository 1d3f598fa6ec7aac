"""`metrics ...`: the local machine's truth now (psutil, NVML); Prometheus queries join later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import CockpitError
from cockpit.model_metrics import GpuSample, LocalSnapshot, NvmlState
from cockpit.serialize import to_jsonable

SOURCE_OPT = Param("--source", "only this metrics source", kind="source", metavar="SOURCE")


def gpu_cells(source: str, host: str, g: GpuSample) -> tuple[str, ...]:
    return (source, host, str(g.index), g.name, fmt.percent(g.utilization),
            f"{fmt.mib(g.memory_used_mib)}/{fmt.mib(g.memory_total_mib)}",
            "-" if g.power_w is None else f"{g.power_w:.0f}W" + (f"/{g.power_limit_w:.0f}W" if g.power_limit_w else ""),
            "-" if g.temperature_c is None else f"{g.temperature_c}C", str(len(g.processes)),
            ",".join(f"{p.name}({p.pid})" for p in g.processes[:3]) or "-")


def _gpus(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps: list[LocalSnapshot]
        snaps, error = gather(ctx, sources_of(ctx, args, "metrics"), lambda b: [b.snapshot()])
        rows = tuple(gpu_cells(s.source, s.host.hostname, g) for s in snaps for g in s.gpus)
        notes = [f"{s.source} ({s.host.hostname}): {s.nvml.value}: {s.nvml_reason}" for s in snaps
                 if s.nvml is not NvmlState.OK]
        data = [to_jsonable(s) | {"nvml": s.nvml.value} for s in snaps]
        failed = [n for s, n in zip([s for s in snaps if s.nvml is NvmlState.ERROR], notes, strict=False)]
        table = Table(("SOURCE", "HOST", "GPU", "NAME", "UTIL", "MEMORY", "POWER", "TEMP", "PROCS", "TOP PROCESSES"),
                      rows)
        return Outcome(data=data, table=table if rows or not notes else None,
                       text="\n".join(notes) or None,
                       error=error or (CockpitError("; ".join(failed)) if failed else None))

    return Plan("metrics gpus", "GPU utilisation, memory, power, temperature and processes", run)


def _host(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps: list[LocalSnapshot]
        snaps, error = gather(ctx, sources_of(ctx, args, "metrics"), lambda b: [b.snapshot()])
        rows = tuple((s.source, s.host.hostname, f"{s.host.cpu_percent:.0f}% of {s.host.cpu_count}",
                      f"{s.host.load_1m:.2f}", f"{fmt.mib(s.host.memory_used_mib)}/{fmt.mib(s.host.memory_total_mib)}",
                      str(len(s.gpus)) if s.nvml is NvmlState.OK else s.nvml.value) for s in snaps)
        return Outcome(data=[to_jsonable(s.host) | {"source": s.source} for s in snaps], error=error,
                       table=Table(("SOURCE", "HOST", "CPU", "LOAD", "MEMORY", "GPUS"), rows))

    return Plan("metrics host", "CPU, load and memory of the machines cockpit measures", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("metrics", "gpus"), "GPUs of the local machine (NVML): utilisation, memory, power, "
                        "temperature, processes", _gpus, (SOURCE_OPT,)))
    reg.add(CommandSpec(("metrics", "host"), "CPU, load and memory of the local machine", _host, (SOURCE_OPT,)))
