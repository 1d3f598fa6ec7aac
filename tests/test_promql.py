"""The pure parts of the metrics work: sparklines and plots as text, value formats, thresholds,
legends, and the joins from series to nodes and workloads."""

from __future__ import annotations

import math

import pytest

from cockpit import promql
from cockpit.format import duration
from cockpit.model_metrics import PanelResult, PanelSpec, PromSnapshot, Series
from cockpit.sparkline import bounds, plot, resample, spark, time_axis


def test_sparkline_is_one_string_and_keeps_spikes_and_gaps() -> None:
    assert spark([0, 50, 100], 3, 0, 100) == "▁▅█"
    values = [1.0] * 100
    values[37] = 9.0
    line = spark(values, 10, 0, 10)
    assert line == "▂▂▂▇▂▂▂▂▂▂"  # the spike survives resampling (the maximum of each bucket)
    assert math.isnan(resample([1.0, math.nan, 3.0], 3)[1])  # NaN stays a gap
    assert spark([1.0, math.nan, 3.0], 3, 0, 3)[1] == " "
    assert spark([5.0], 4, 0, 10) == "   ▅"  # newest at the right


def test_bounds_and_plot() -> None:
    assert bounds([3.0, 7.0], "%") == (0.0, 100.0)
    assert bounds([0.5, 0.7]) == (0.5, 0.7)  # a latency that moves by a third shows its shape
    lo, hi = bounds([0.61, 0.64])  # within ±5% of its size: drawn in a window that wide
    assert (lo, hi) == pytest.approx((0.5930, 0.6570))
    assert bounds([2.0, 2.0]) == pytest.approx((1.9, 2.1))  # a flat line sits mid-height
    assert bounds([0.0, 0.0]) == (-1.0, 1.0)
    assert bounds([0.0, 0.001]) == (0.0, 0.001)
    lines = plot([0.0, 5.0, 10.0], 20, 4, 0, 10, "{:.0f}")
    assert len(lines) == 4 and lines[0].startswith("10 ┤") and lines[-1].startswith(" 0 ┤")
    assert lines[0].endswith("█" * 5) and lines[-1][4:9] == "▁" * 5  # the lowest value still shows


def test_values_thresholds_and_legends() -> None:
    assert [promql.fmt_value(v, u) for v, u in ((93.0, "%"), (4.25, "%"), (0.0123, "s"), (2.5, "s"),
                                               (42.04, "req/s"), (310.2, "req/s"), (None, "W"))] == [
        "93%", "4.2%", "12ms", "2.50s", "42.0/s", "310/s", "-"]
    spec = PanelSpec("x", "x", "q", "%", ("cluster", "Hostname", "gpu", "GPU_I_ID"), warn=80, crit=95)
    assert [promql.level(v, spec) for v in (50, 80, 99, math.nan)] == [None, "warn", "bad", None]
    low = PanelSpec("y", "y", "q", warn=10, lower_is_worse=True)
    assert promql.level(5, low) == "warn" and promql.level(50, low) is None
    s = Series((("GPU_I_ID", "9"), ("Hostname", "a100-mig-01"), ("cluster", "gpu-prod"), ("gpu", "0")), ())
    assert promql.legend(s, spec) == "gpu-prod/a100-mig-01/gpu0/mig9"
    assert sorted(["gpu10", "gpu9", "gpu1"], key=promql.natural) == ["gpu1", "gpu9", "gpu10"]
    assert promql.prom_duration("90s") == 90 and promql.prom_duration("1 hour") is None
    assert promql.default_step(3600) == 60 and promql.default_step(300) == 5 and promql.window_of({}) == (3600, 60)


def _snap(cluster: str = "") -> PromSnapshot:
    util = PanelResult(PanelSpec("gpu_util", "GPU util", "q", "%"), (
        Series((("Hostname", "n1"), ("cluster", "gpu-prod"), ("gpu", "0")), ((0, 50.0), (1, 60.0))),
        Series((("Hostname", "n1"), ("cluster", "gpu-prod"), ("gpu", "1")), ((1, 80.0),)),
        Series((("Hostname", "vm1"), ("gpu", "0")), ((1, 10.0),))))
    rps = PanelResult(PanelSpec("rps", "Requests/s", "q", "req/s"), (
        Series((("namespace", "inference"), ("workload", "web-predictor")), ((1, 12.5),)),))
    return PromSnapshot("prom", "http://p", 3600, 60, (util, rps), cluster=cluster)


def test_joins_to_nodes_vms_and_workloads_and_the_reasons_when_missing() -> None:
    figures = promql.Figures([_snap(cluster="edge")], {}, True)
    node = figures.node("gpu-prod", "n1")
    assert node is not None and node.gpus == 2 and node.util == 70.0 and node.memory is None
    assert figures.node("other-cluster", "n1") is None
    assert promql.Figures([_snap()], {}, True).node("", "vm1").util == 10.0  # type: ignore[union-attr]
    web = figures.workload("edge", "inference", "web")  # an InferenceService serves from NAME-predictor
    assert web is not None and web.rps == 12.5
    assert figures.why_no_gpu("n9") == "no DCGM series for n9 (no exporter on it, or another node_label)"
    assert promql.Figures([], {}, False).why_no_gpu("n1") == "no Prometheus source in the config"
    assert promql.Figures([], {"prom": "cannot reach"}, True).why_no_serving("w") == "prom: cannot reach"
    empty = PromSnapshot("prom", "u", 60, 1, (PanelResult(PanelSpec("gpu_util", "", ""), (), "no DCGM exporter"),))
    assert promql.Figures([empty], {}, True).why_no_gpu("n1") == "no DCGM exporter"


def test_unitless_figures_keep_four_significant_digits() -> None:
    values = (0.002445123, 1234567.891, 42.0, -0.5, 3.2e-7, 2 / 3, 1.5e18, 0.0, math.inf, math.nan)
    assert [promql.figure(v) for v in values] == [
        "0.002445", "1234568", "42", "-0.5", "3.2e-07", "0.6667", "1.5e+18", "0", "+Inf", "NaN"]
    assert promql.fmt_value(0.002445, "") == "0.002445" and promql.fmt_value(None, "") == "-"


def test_a_series_flat_within_noise_looks_flat() -> None:
    """A p95 between 71.6 and 72.4 ms read `72ms 72ms 72ms ▂▆▆▅▅▂▇▇`: scaled to its own range."""
    noisy = [0.072 + 0.0004 * ((i * 7) % 5 - 2) / 2 for i in range(61)]
    line = spark(noisy, 24, *bounds(noisy))
    assert len(set(line)) <= 2, line
    rising = [0.5 + 0.2 * i / 60 for i in range(61)]
    shape = spark(rising, 8, *bounds(rising))
    assert shape[-1] == "█" and shape[0] in "▁▂" and len(set(shape)) >= 6, shape


def test_the_plot_fills_its_width_and_has_a_time_axis() -> None:
    lines = plot([float(i) for i in range(61)], 100, 4, 0, 60, "{:.0f}")
    assert {len(line) for line in lines} == {100}  # 61 points over 96 columns, not 61 columns
    rule, labels = time_axis(100, "60", 3600, duration)
    assert len(rule) == 100 and rule.count("┴") == 5
    assert labels.split() == ["-1h", "-45m", "-30m", "-15m", "now"]
    assert time_axis(30, "60", 600, duration)[1].split() == ["-10m", "-5m", "now"]
