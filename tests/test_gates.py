"""Gates of a guarded rollout (cockpit.ops.gates): parsed from `--gate` with one-line errors,
turned into PromQL narrowed to the canary, read from the real Prometheus, and judged so that no
data is never a pass and a gate rolls back only after its failure limit."""

from __future__ import annotations

from typing import Any

import pytest

from backends.prometheus.adapter import PrometheusBackend
from cockpit.contracts import BadInput
from cockpit.ops.gates import Canary, Judge, Verdict, parse_gate, query, reading
from cockpit.sandbox.prom import PromServer
from tests.conftest import FIXED_NOW
from tests.prom_helpers import prometheus_missing


@pytest.mark.parametrize(("text", "name", "op", "threshold", "unit"), [
    ("p95 < 800ms", "p95", "<", 0.8, "s"),
    ("p99<=2s", "p99", "<=", 2.0, "s"),
    ("error_rate < 1%", "error_rate", "<", 1.0, "%"),
    ("gpu_util < 95%", "gpu_util", "<", 95.0, "%"),
    ("rps > 5", "rps", ">", 5.0, ""),
    ("promql:sum(rate(x{a=\"b\"}[1m])) >= 3", "promql", ">=", 3.0, ""),
])
def test_gates_parse(text: str, name: str, op: str, threshold: float, unit: str) -> None:
    g = parse_gate(text)
    assert (g.name, g.op, g.threshold, g.unit) == (name, op, threshold, unit)


@pytest.mark.parametrize(("text", "error"), [
    ("p95 < fast", "--gate 'p95 < fast': not NAME OP NUMBER[UNIT] (e.g. 'p95 < 800ms', 'error_rate < 1%', "
                   "'promql:EXPR < 3')"),
    ("p95 < 800", "--gate 'p95 < 800': a latency needs ms or s (e.g. 800ms)"),
    ("error_rate < 0.01", "--gate 'error_rate < 0.01': error_rate reads in % (e.g. 1%)"),
    ("latency < 1s", "--gate 'latency < 1s': no gate 'latency' (gates: p95, p99, p50, error_rate, gpu_util, rps, "
                     "or promql:EXPR)"),
    ("promql:up < 3%", "--gate 'promql:up < 3%': a promql gate compares the query's value as it is (no unit)"),
])
def test_bad_gates_are_one_line(text: str, error: str) -> None:
    with pytest.raises(BadInput) as e:
        parse_gate(text)
    assert e.value.message == error


def test_builtin_gates_read_only_the_canarys_series() -> None:
    c = Canary({"namespace": "inference", "pod": "router-canary-0"})
    assert query(parse_gate("p95 < 800ms"), c) == (
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket'
        '{namespace="inference",pod="router-canary-0"}[2m])))')
    assert query(parse_gate("error_rate < 1%"), c).startswith(
        '(sum(rate(http_requests_total{namespace="inference",pod="router-canary-0",code=~"5.."}[2m])) or vector(0))')


def test_no_data_never_passes_and_failures_count_to_the_limit() -> None:
    p95, err = parse_gate("p95 < 800ms"), parse_gate("error_rate < 1%")
    judge = Judge(failure_limit=2)
    verdict, why = judge.judge([reading(p95, [0.3], FIXED_NOW), reading(err, [], FIXED_NOW)])
    assert verdict is Verdict.HOLD and "error_rate < 1%: no data" in why  # never a pass
    verdict, _ = judge.judge([reading(p95, [float("nan")], FIXED_NOW), reading(err, [0.5], FIXED_NOW)])
    assert verdict is Verdict.HOLD  # NaN is no data too
    assert judge.judge([reading(p95, [0.3], FIXED_NOW), reading(err, [0.5], FIXED_NOW)])[0] is Verdict.GO
    assert judge.judge([reading(p95, [1.2], FIXED_NOW), reading(err, [0.5], FIXED_NOW)])[0] is Verdict.HOLD  # 1 of 2
    verdict, why = judge.judge([reading(p95, [1.5], FIXED_NOW), reading(err, [0.5], FIXED_NOW)])
    assert verdict is Verdict.ROLL_BACK
    assert why == "p95 < 800ms: 1.50s FAILS; error_rate < 1%: 0.50% ok (failed 2 of 2)"


@prometheus_missing
def test_gates_read_from_prometheus(prom: PromServer) -> None:
    b = PrometheusBackend("prom", {"url": prom.url, "query_timeout": 10.0})
    (one, *_rest) = b.query("http_requests_total")
    canary = Canary({"namespace": one.label("namespace"), "pod": one.label("pod")})

    def read(text: str) -> Any:
        gate = parse_gate(text)
        return reading(gate, [s.last for s in b.query(query(gate, canary))], FIXED_NOW)

    assert read("rps > 0").passed is True
    assert read("error_rate < 100%").passed is True
    assert read("p95 < 1ms").passed is False
    assert read("promql:count(DCGM_FI_DEV_GPU_UTIL) > 10").passed is True
    assert read("promql:no_such_series_at_all < 3").passed is None  # nothing: no data, not a pass
    other = Canary({"pod": "no-such-canary"})
    assert reading(parse_gate("rps > 0"), [s.last for s in b.query(query(parse_gate("rps > 0"), other))],
                   FIXED_NOW).passed is None
