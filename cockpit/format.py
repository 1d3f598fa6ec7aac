"""Human forms of numbers shared by the text output of the script mode and the screens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from cockpit.model import GpuDevice, Machine


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`1 machine`, `3 machines`, `0 pods`, `2 replicas`: a count with its noun agreeing, the one
    place text output and screens say how many (`many` for an irregular plural)."""
    return f"{n} {noun if n == 1 else many or noun + 's'}"


def state_text(state: str, native: str) -> str:
    """`stopped (shut off)`: our state, and the backend's own word where it says more; `running`,
    not `running (running)`."""
    return state if not native or native.strip().lower() == state.lower() else f"{state} ({native})"


def mib(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f}T".replace(".0T", "T")
    if n >= 1024:
        return f"{n / 1024:.1f}G".replace(".0G", "G")
    return f"{n}M"


def duration(seconds: float | None) -> str:
    """k9s-style ages: 42s, 7m, 3h12m, 5d3h."""
    if seconds is None or seconds < 0:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"


def age(since: datetime | None, now: datetime) -> str:
    return "-" if since is None else duration((now - since).total_seconds())


def gpu_summary(gpus: Iterable[GpuDevice]) -> str:
    """`4×A100 SXM4 80GB`, or `2×A100, 1×T4` for a mix; empty when there are none."""
    counts = Counter(g.model for g in gpus)
    return ", ".join(f"{n}×{model}" for model, n in counts.most_common())


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def machine_line(m: Machine) -> str:
    """One phrase naming a machine and what it holds, for confirmations and messages."""
    parts = [m.state.value, f"{m.vcpus} vCPU", mib(m.memory_mib)]
    if m.gpus:
        parts.append(gpu_summary(m.gpus))
    return f"{m.ref} ({', '.join(parts)})"


def machine_type(m: Machine, short: bool = False) -> str:
    """The cloud size, marked when it is spot capacity; a libvirt VM's template, when it has one.
    `short` drops Azure's `Standard_` (every GPU size has it) where a table column is narrow."""
    if m.machine_type:
        kind = m.machine_type.removeprefix("Standard_") if short else m.machine_type
        return kind + (" spot" if m.lifecycle == "spot" else "")
    return m.template or "-"


def dollars(hourly: float | None) -> str:
    """`$12.34`, `$0.082`, `$70,790`: cents where they matter, never a bare 0 for an unknown price."""
    if hourly is None:
        return "-"
    if hourly >= 1000:
        return f"${hourly:,.0f}"
    return f"${hourly:,.2f}" if hourly >= 1 or hourly == 0 else f"${hourly:.3f}"
