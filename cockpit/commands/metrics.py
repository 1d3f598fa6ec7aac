"""`metrics ...`: the local machine's truth (psutil, NVML) and Prometheus (DCGM GPU series,
serving latency and throughput, any PromQL). The panel rows here are the Metrics screen's rows
too, so the screen and `--script` say the same thing.

Figures carry their freshness in JSON (`as_of`, `stale`; cockpit.freshness judges it): a snapshot's
is the time it was read, on the hub's clock; a queried series' is the time of its newest point, on
Prometheus' clock, judged against the query's own time. A range series whose newest point is more
than two steps before the end of the range stopped reporting: its last value is not the present."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cockpit import format as fmt
from cockpit import promql
from cockpit.commands.common import gather, sources_of
from cockpit.commands.registry import CommandSpec, Context, Outcome, Param, Plan, Registry, Table
from cockpit.contracts import LOCAL_METRICS, SERIES, BadInput, CockpitError, SeriesBackend
from cockpit.freshness import STALE_MARK, Freshness, judge, last_error, marked
from cockpit.model_metrics import GpuSample, LocalSnapshot, NvmlState, PanelSpec, PromSnapshot, Series
from cockpit.serialize import to_jsonable, utc_iso
from cockpit.sparkline import bounds, spark
from cockpit.state.metric_rows import TREND_WIDTH, prom_rows, stat

SOURCE_OPT = Param("--source", "only this metrics source", kind="source", metavar="SOURCE")
PANEL_COLUMNS = ("SOURCE", "PANEL", "SERIES", "NOW", "MIN", "MAX", "TREND")
GPU_COLUMNS = ("SOURCE", "HOST", "GPU", "NAME", "UTIL", "MEMORY", "POWER", "TEMP", "PROCS", "TOP PROCESSES")


def gpu_cells(source: str, host: str, g: GpuSample) -> tuple[str, ...]:
    return (source, host, str(g.index), g.name, fmt.percent(g.utilization),
            f"{fmt.mib(g.memory_used_mib)}/{fmt.mib(g.memory_total_mib)}",
            "-" if g.power_w is None else f"{g.power_w:.0f}W" + (f"/{g.power_limit_w:.0f}W" if g.power_limit_w else ""),
            "-" if g.temperature_c is None else f"{g.temperature_c}C", str(len(g.processes)),
            ",".join(f"{p.name}({p.pid})" for p in g.processes[:3]) or "-")


# -- commands ------------------------------------------------------------------------------
def _prom_sources(ctx: Context, args: Mapping[str, Any]) -> list[str]:
    names = sources_of(ctx, args, "series")
    if not names:
        raise BadInput("no Prometheus source: add [sources.NAME] kind = \"prometheus\", url = ... to config.toml")
    if args.get("source") and ctx.hub.source(args["source"]).kind != "prometheus":
        raise BadInput(f"--source {args['source']}: not a Prometheus source")
    return names


def _snapshots(ctx: Context, names: list[str], window_s: float | None = None, step_s: float | None = None,
               kinds: frozenset[str] | None = None) -> tuple[list[PromSnapshot], CockpitError | None]:
    """Each Prometheus source's panels, all at once; what answered, and one error naming the rest.
    Each is stamped with the hub's clock when it came back, the clock its source's health is on."""
    return gather(ctx, names, SERIES, lambda b: [replace(
        promql.snapshot(b, ctx.hub.source(b.source), window_s, step_s, kinds=kinds), as_of=ctx.hub.now())])


def fresh_json(fresh: Freshness) -> dict[str, Any]:
    """The keys a figure's freshness adds to its JSON: when it is from, and whether it is stale."""
    return {"as_of": utc_iso(fresh.as_of), "stale": fresh.stale}


def snapshot_freshness(ctx: Context, as_of: datetime | None, source: str, interval_s: float | None) -> Freshness:
    """Figures read from `source` at `as_of`, judged now: stale if the source failed since, or if
    they are older than two of the intervals they were asked at."""
    return judge(as_of, ctx.hub.now(), interval_s, last_error(ctx.hub.health(source)))


def stale_note(source: str, fresh: Freshness) -> list[str]:
    """One line under the table for a source whose figures are stale (none when they are fresh)."""
    return [f"{STALE_MARK} {source}: {fresh.describe()}"] if fresh.stale else []


def _gpus(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        local_sources = [s for s in sources_of(ctx, args, "metrics")
                         if not args.get("source") or ctx.hub.source(s).kind == "local"]
        snaps: list[LocalSnapshot]
        snaps, error = gather(ctx, local_sources, LOCAL_METRICS, lambda b: [b.snapshot()])
        rows: list[tuple[str, ...]] = [gpu_cells(s.source, s.host.hostname, g) for s in snaps for g in s.gpus]
        notes = [f"{s.source} ({s.host.hostname}): {s.nvml.value}: {s.nvml_reason}" for s in snaps
                 if s.nvml is not NvmlState.OK]
        data: list[Any] = [to_jsonable(s) | {"nvml": s.nvml.value} | fresh_json(
            snapshot_freshness(ctx, s.as_of, s.source, None)) for s in snaps]
        failed = [f"{s.source}: {s.nvml_reason}" for s in snaps if s.nvml is NvmlState.ERROR]
        proms = [s for s in sources_of(ctx, args, "series") if not args.get("source")
                 or ctx.hub.source(s).kind == "prometheus"]
        prom_snaps, prom_error = _snapshots(ctx, proms, 300.0, None, frozenset({promql.GPU_KIND}))
        if prom_error is not None:
            error = error or prom_error
            notes.append(prom_error.message)
        for prom in prom_snaps:
            gpus = dcgm_gpus(prom)
            fresh = snapshot_freshness(ctx, prom.as_of, prom.source, prom.step_s)
            notes += [f"{prom.source}: {r.reason}" for r in prom.panels if r.spec.id == "gpu_util" and r.reason]
            notes += stale_note(prom.source, fresh)
            rows += [tuple(marked(c, fresh.stale) if 4 <= i <= 7 else c for i, c in enumerate(g["cells"]))
                     for g in gpus]  # the figures (util, memory, power, temperature), not the names
            data.append({"source": prom.source, "kind": "prometheus", "gpus": [g["data"] for g in gpus]}
                        | fresh_json(fresh))
        table = Table(GPU_COLUMNS, tuple(rows))
        return Outcome(data=data, table=table if rows or not notes else None, text="\n".join(notes) or None,
                       error=error or (CockpitError("; ".join(failed)) if failed else None))

    return Plan("metrics gpus", "GPU utilisation, memory, power, temperature and processes", run)


def dcgm_gpus(snap: PromSnapshot) -> list[dict[str, Any]]:
    """One entry per GPU (or MIG slice) from the DCGM panels' latest values."""
    by_unit: dict[tuple[str, ...], dict[str, Any]] = {}
    for result in snap.panels:
        for s in result.series:
            unit = (s.label(snap.cluster_label), s.label(snap.node_label), s.label("gpu"), s.label("GPU_I_ID"))
            entry = by_unit.setdefault(unit, {"cluster": unit[0], "host": unit[1], "gpu": unit[2], "mig": unit[3],
                                              "name": s.label("modelName"), "pod": s.label("pod")})
            entry[result.spec.id] = s.last
    out = []
    for _unit, e in sorted(by_unit.items(), key=lambda kv: (kv[0][0], kv[0][1], _num(kv[0][2]), _num(kv[0][3]))):
        host = f"{e['cluster']}/{e['host']}" if e["cluster"] else e["host"]
        gpu = f"{e['gpu']}.{e['mig']}" if e["mig"] else e["gpu"]
        cells = (snap.source, host, gpu, e["name"] + (" (MIG)" if e["mig"] else ""),
                 promql.fmt_value(e.get("gpu_util"), "%"), promql.fmt_value(e.get("gpu_mem"), "%"),
                 promql.fmt_value(e.get("gpu_power"), "W"), promql.fmt_value(e.get("gpu_temp"), "C"), "-",
                 e["pod"] or "-")
        data = {k: v for k, v in e.items() if v not in ("", None)}
        out.append({"cells": cells, "data": data})
    return out


def _num(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _host(ctx: Context, args: Mapping[str, Any]) -> Plan:
    def run() -> Outcome:
        snaps: list[LocalSnapshot]
        snaps, error = gather(ctx, sources_of(ctx, args, "metrics"), LOCAL_METRICS, lambda b: [b.snapshot()])
        rows = tuple((s.source, s.host.hostname, f"{s.host.cpu_percent:.0f}% of {s.host.cpu_count}",
                      f"{s.host.load_1m:.2f}", f"{fmt.mib(s.host.memory_used_mib)}/{fmt.mib(s.host.memory_total_mib)}",
                      str(len(s.gpus)) if s.nvml is NvmlState.OK else s.nvml.value) for s in snaps)
        return Outcome(data=[to_jsonable(s.host) | {"source": s.source} for s in snaps], error=error,
                       table=Table(("SOURCE", "HOST", "CPU", "LOAD", "MEMORY", "GPUS"), rows))

    return Plan("metrics host", "CPU, load and memory of the machines cockpit measures", run)


def series_freshness(ctx: Context, source: str, s: Series, asked_at: float, step_s: float | None) -> Freshness:
    """A queried series' freshness: its newest point's time (Prometheus' sample time) against the
    time the query was for, in steps of the query (an instant query has none: its point is at the
    time asked), or stale because its source failed since."""
    newest = datetime.fromtimestamp(s.points[-1][0], UTC) if s.points else None
    return judge(newest, datetime.fromtimestamp(asked_at, UTC), step_s, last_error(ctx.hub.health(source)))


def _stale_series(freshness: list[Freshness]) -> str | None:
    """The line under a query's table when some of its series are stale (their values marked)."""
    stale = [f for f in freshness if f.stale]
    if not stale:
        return None
    why = "; ".join(sorted({f.why for f in stale if f.why and not f.why.startswith("not refreshed")}))
    return f"{STALE_MARK} {len(stale)} series stale: " + (why or "no point in the last two steps of the range "
                                                             "(stopped reporting)")


def _series_json(s: Series) -> dict[str, Any]:
    if s.text is not None:
        return {"labels": dict(s.labels), "values": [[t, s.text] for t, _ in s.points]}
    return {"labels": dict(s.labels), "values": [[t, None if math.isnan(v) else v] for t, v in s.points]}


def _query(ctx: Context, args: Mapping[str, Any]) -> Plan:
    promql_text = str(args["promql"]).strip()
    if not promql_text:
        raise BadInput("metrics query: an empty PromQL expression")
    window: float | None = args.get("range")
    step: float | None = args.get("step")
    if step is not None and window is None:
        raise BadInput("--step: only with --range (an instant query has no step)")
    if window is not None and step is None:
        step = promql.default_step(window)
    if window is not None and step is not None and window / step > 11000:
        raise BadInput(f"--range {window:g}s --step {step:g}s: over 11,000 points per series "
                       "(Prometheus' limit): a larger step")
    sources = _prom_sources(ctx, args)

    def run() -> Outcome:
        now = time.time()

        def ask(b: SeriesBackend) -> list[tuple[str, Series]]:
            found = b.query_range(promql_text, now - window, now, step) if window is not None and step \
                else b.query(promql_text, now)
            return [(b.source, s) for s in found]

        found: list[tuple[str, Series]]
        found, error = gather(ctx, sources, SERIES, ask)
        spec = PanelSpec("query", "query", promql_text)
        rows: list[tuple[str, ...]] = []
        freshness = [series_freshness(ctx, src, s, now, step if window is not None else None) for src, s in found]
        for (src, s), fresh in zip(found, freshness, strict=True):
            name = promql.legend(s, spec)
            if s.text is not None:  # a string result: as Prometheus gave it (the output sanitises it)
                rows.append((src, name, marked(s.text, fresh.stale)) + (("", "", "") if window is not None else ()))
            elif window is None:
                rows.append((src, name, marked(promql.fmt_value(s.last, ""), fresh.stale)))
            else:
                lo, hi = bounds(s.values)
                rows.append((src, name, marked(promql.fmt_value(s.last, ""), fresh.stale),
                             promql.fmt_value(stat(s.values, min), ""), promql.fmt_value(stat(s.values, max), ""),
                             spark(s.values, TREND_WIDTH, lo, hi)))
        columns = ("SOURCE", "SERIES", "VALUE") if window is None else ("SOURCE", "SERIES", "LAST", "MIN", "MAX",
                                                                         "TREND")
        data = [{"source": src} | _series_json(s) | fresh_json(fresh)
                for (src, s), fresh in zip(found, freshness, strict=True)]
        return Outcome(data=data, table=Table(columns, tuple(rows)) if rows else None,
                       text=_stale_series(freshness) if rows or error else "the query returned no series",
                       error=error)

    what = f"range {window:g}s step {step:g}s" if window is not None and step else "instant"
    return Plan("metrics query", f"{promql_text} ({what})", run)


def _panels(ctx: Context, args: Mapping[str, Any]) -> Plan:
    window: float | None = args.get("window")
    step: float | None = args.get("step")
    sources = _prom_sources(ctx, args)

    def run() -> Outcome:
        snaps, error = _snapshots(ctx, sources, window, step)
        freshness = [snapshot_freshness(ctx, snap.as_of, snap.source, snap.step_s) for snap in snaps]
        rows = [cells[:3] + tuple(marked(c, fresh.stale) for c in cells[3:6]) + cells[6:]
                for snap, fresh in zip(snaps, freshness, strict=True) for _, cells, _ in prom_rows(snap)]
        data = [{"source": snap.source, "window_s": snap.window_s, "step_s": snap.step_s, "panels": [
            {"id": r.spec.id, "title": r.spec.title, "query": r.spec.query, "unit": r.spec.unit,
             "reason": r.reason or None, "series": [_series_json(s) for s in r.series]} for r in snap.panels]}
            | fresh_json(fresh) for snap, fresh in zip(snaps, freshness, strict=True)]
        notes = [line for snap, fresh in zip(snaps, freshness, strict=True) for line in stale_note(snap.source, fresh)]
        return Outcome(data=data, table=Table(PANEL_COLUMNS, tuple(rows)), error=error, text="\n".join(notes) or None)

    return Plan("metrics panels", "every panel: GPU (DCGM), serving and the config's own", run)


def register(reg: Registry) -> None:
    reg.add(CommandSpec(("metrics", "gpus"), "GPUs: this machine's (NVML) and every DCGM-exported GPU in "
                        "Prometheus: utilisation, memory, power, temperature, processes", _gpus, (SOURCE_OPT,)))
    reg.add(CommandSpec(("metrics", "host"), "CPU, load and memory of the local machine", _host, (SOURCE_OPT,)))
    reg.add(CommandSpec(("metrics", "query"), "run PromQL: an instant query, or a range with --range/--step",
                        _query, (Param("promql", "the PromQL expression (quote it)", required=True),
                                 Param("--range", "a range query over this window (1h, 30m, 7d)", kind="duration"),
                                 Param("--step", "resolution of a range query (default: about 60 points)",
                                       kind="duration"),
                                 Param("--source", "only this Prometheus source", kind="source",
                                       metavar="SOURCE"))))
    reg.add(CommandSpec(("metrics", "panels"), "every metrics panel (GPU, latency, throughput, errors, the "
                        "config's own) with now, min, max and a sparkline", _panels,
                        (Param("--window", "time window (default: the source's, else 1h)", kind="duration"),
                         Param("--step", "resolution (default: about 60 points)", kind="duration"),
                         Param("--source", "only this Prometheus source", kind="source", metavar="SOURCE"))))
