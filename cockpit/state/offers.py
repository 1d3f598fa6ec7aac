"""The GPU comparator's answer, for `cost compare` and the Costs screen's dialog alike: cloud quotes
cheapest first, then the HPC hosts with enough free GPUs of that model, priced by the on-prem model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cockpit import format as fmt
from cockpit.contracts import MACHINES, PROVISIONING, CockpitError
from cockpit.costs import OnPremModel, Quote
from cockpit.hub import Hub
from cockpit.providers import provider
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


def writable_source(hub: Hub, cloud: str) -> str | None:
    """The first source of that cloud a person may provision on (not read-only), or None."""
    kind = provider(cloud)
    if kind is None or not kind.can("provision"):
        return None
    return next((s.name for s in hub.sources("machines") if s.kind == cloud and not hub.is_read_only(s.name)), None)


def where_in(hub: Hub, source: str, region: str) -> str:
    """Where `vm provision` would put a machine in that region: the region, or for a cloud that
    provisions in a zone, the source's configured zone there (else the region's default zone)."""
    cfg = hub.source(source)
    kind = provider(cfg.kind)
    if kind is None or kind.zone_in is None:
        return region
    return kind.zone_in(region, [str(z) for z in cfg.settings.get(kind.where_setting) or []])


def offered(hub: Hub, cloud: str, region: str, types: Sequence[str]) -> dict[str, str | None]:
    """For each type, None if a writable source of that cloud can provision it in the region, else
    why not (no such source, not one of its regions, the region does not sell it, the call failed).
    A worker's call: it asks the cloud."""
    source = writable_source(hub, cloud)
    if source is None:
        return dict.fromkeys(types, f"no writable {cloud} source in the config")
    try:
        return hub.call(source, PROVISIONING, lambda b: b.offered(where_in(hub, source, region), types))
    except CockpitError as e:
        return dict.fromkeys(types, f"not checked: {e.message}")


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
