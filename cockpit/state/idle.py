"""Every GPU's peak utilisation over a window, from each Prometheus source's DCGM series: what the
Costs screen's idle-GPU grouping and `cost idle` both price (cockpit.waste)."""

from __future__ import annotations

from cockpit.contracts import SERIES, CockpitError, SeriesBackend
from cockpit.hub import Hub
from cockpit.state.gather import gather_from
from cockpit.waste import GpuPeak, peaks_query, to_peaks


def gpu_peaks(hub: Hub, names: list[str], window: str) -> tuple[list[GpuPeak], CockpitError | None]:
    """Every GPU's peak utilisation over the window, from each Prometheus source at once."""
    def ask(b: SeriesBackend) -> list[GpuPeak]:
        settings = hub.source(b.source).settings
        return to_peaks(b.source, settings, b.query(peaks_query(settings, window)))

    return gather_from(hub, names, SERIES, ask)
