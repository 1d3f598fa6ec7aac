"""The GPU comparator's answer, for `cost compare` and the Costs screen's dialog alike: cloud quotes
cheapest first, then the HPC hosts with enough free GPUs of that model, priced by the on-prem model."""

from __future__ import annotations

from collections.abc import Mapping

from cockpit import format as fmt
from cockpit.contracts import MACHINES, CockpitError
from cockpit.costs import OnPremModel, Quote
from cockpit.hub import Hub
from cockpit.state.gather import gather_from


def free_hpc(hub: Hub, gpu: str) -> tuple[dict[str, int], CockpitError | None]:
    """Per HPC source, how many of its passthrough GPUs of that model no running VM holds (asks
    the sources: a worker's or a command's call, never the UI thread's)."""
    free, error = gather_from(hub, [s.name for s in hub.sources("machines")], MACHINES, lambda b: [
        g for g in b.host_gpus() if not g.assigned_running])
    hpc: dict[str, int] = {}
    for g in free:
        if gpu.lower().split("-")[0] in g.model.lower().replace(" ", ""):
            hpc[g.source] = hpc.get(g.source, 0) + 1
    return hpc, error


def compare_rows(quotes: list[Quote], hpc: Mapping[str, int], gpu: str, count: int, hours: float,
                 onprem: OnPremModel) -> tuple[tuple[str, ...], ...]:
    """The comparator's table, for `cost compare` and the Costs screen's dialog alike: the cloud
    quotes, then each HPC source with enough free GPUs priced by the on-prem model."""
    rows = tuple((q.cloud, q.region, q.machine_type, fmt.dollars(q.hourly), fmt.dollars(q.total),
                  f"{q.saving:.0%}" if q.saving else "-") for q in quotes)
    return rows + tuple(("hpc", src, f"{n} free {gpu} GPU{'s' if n > 1 else ''}",
                         fmt.dollars(onprem.gpu_rate(gpu) * count) + " (model)",
                         fmt.dollars(onprem.gpu_rate(gpu) * count * hours), "-")
                        for src, n in sorted(hpc.items()) if n >= count)


def compare_columns(hours: float) -> tuple[str, ...]:
    return ("CLOUD", "REGION", "TYPE", "$/HOUR", f"$ FOR {hours:g} H", "VS DEAREST")
