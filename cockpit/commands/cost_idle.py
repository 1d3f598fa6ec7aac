"""`cost idle`: GPUs that stayed under a utilisation threshold over a window, what they cost per
day, and who holds them (cockpit.waste), from every Prometheus source's DCGM series. The JSON says
when the peaks were read (`as_of`, the hub's clock) and whether they are `stale` (a source they came
from failed since: cockpit.freshness); a source that did not answer is in the record's `errors`,
its GPUs unknown, never counted as busy or idle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit import format as fmt
from cockpit.commands.common import sources_of
from cockpit.commands.costs import fleet
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import BadInput
from cockpit.freshness import STALE_MARK, judge, last_error
from cockpit.prices import current
from cockpit.serialize import utc_iso
from cockpit.state.gather import merged
from cockpit.state.idle import gpu_peaks
from cockpit.waste import THRESHOLD, Waste, idle_gpus

DEFAULT_WINDOW_S = 3600.0


def prom_window(seconds: float) -> str:
    """Seconds as a Prometheus range (`1h`, `90m`, `45s`)."""
    s = int(seconds)
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m" if s % 60 == 0 else f"{s}s"


def waste_dict(w: Waste) -> dict[str, Any]:
    return {"threshold_percent": w.threshold, "window": w.window, "gpus_checked": w.checked,
            "hourly_usd": w.hourly, "daily_usd": w.daily,
            "idle": [{"where": g.where, "gpu": g.gpu, "model": g.model, "peak_percent": round(g.peak, 2),
                      "hourly_usd": None if g.hourly is None else round(g.hourly, 6),
                      "daily_usd": None if g.daily is None else round(g.daily, 4),
                      "holders": list(g.holders), "why": g.why or None} for g in w.idle]}


def _idle(ctx: Context, args: Mapping[str, Any]) -> Plan:
    names = [n for n in sources_of(ctx, args, "series") if ctx.hub.source(n).kind == "prometheus"]
    if not names:
        raise BadInput("cost idle: no Prometheus source with DCGM series: add [sources.NAME] kind = \"prometheus\", "
                       "url = ... to config.toml")
    threshold = float(args["threshold"]) if args.get("threshold") is not None else THRESHOLD
    window = prom_window(args.get("window") or DEFAULT_WINDOW_S)

    def run() -> Outcome:
        peaks, e1 = gpu_peaks(ctx.hub, names, window)
        read_at = ctx.hub.now()
        machines, snaps, e2 = fleet(ctx, {})
        # an instant answer (the peak over the window as of now): no interval to fall behind, stale
        # only if a source it came from failed since
        stale = [f"{s} {f.describe()}" for s in sorted({p.source for p in peaks})
                 if (f := judge(read_at, ctx.hub.now(), None, last_error(ctx.hub.health(s)))).stale]
        cat = current()
        w = idle_gpus(peaks, machines, snaps, cat, ctx.hub.config.onprem, threshold, window)
        rows = tuple((g.where, g.gpu, g.model or "-", f"{g.peak:.1f}%",
                      fmt.dollars(g.hourly) if g.hourly is not None else "no price",
                      fmt.dollars(g.daily) if g.daily is not None else "-",
                      ", ".join(g.holders) or g.why) for g in w.idle)
        text = (f"{len(w.idle)} of {fmt.plural(w.checked, 'GPU')} under {threshold:g}% for {window}: "
                f"{fmt.dollars(w.hourly)}/h, "
                f"{fmt.dollars(w.daily)} per day; prices: {cat.describe(ctx.hub.now().date())}")
        if not w.checked:
            text = f"no DCGM GPU series in {', '.join(names)} over {window}" + (
                "" if e1 is None else f" ({e1.message})")
        text += "".join(f"\n{g.where} {g.gpu}: {g.why}" for g in w.idle if g.why)
        text += "".join(f"\n{STALE_MARK} stale peaks: {s}" for s in stale)
        data = waste_dict(w) | {"as_of": utc_iso(read_at), "stale": bool(stale)}
        return Outcome(data=data, error=merged((e1, e2)), text=text, table=Table(
            ("WHERE", "GPU", "MODEL", "PEAK", "$/HOUR", "$/DAY", "HELD BY"), rows))

    return Plan("cost idle", f"GPUs under {threshold:g}% for {window}", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("cost", "idle"), "GPUs idle over a window (DCGM utilisation from Prometheus), their $/day "
                        "and who holds them", _idle, (
        Param("--threshold", "utilisation under which a GPU is idle, percent (default 5)", kind="percent",
              metavar="PCT"),
        Param("--window", "how long it must have stayed under (default 1h)", kind="duration", metavar="DURATION"),
        Param("--source", "only this Prometheus source", kind="source", metavar="SOURCE"),
    )))

