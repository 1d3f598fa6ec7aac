"""A rollout as the panel reads it from its record (cockpit.ops.rollout_view): steps done and to
come, each gate's readings over time, the canary beside the stable, paused or ended; and the
engine writes those facts as it goes (cockpit.ops.rollout)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from cockpit.audit import AuditLog
from cockpit.ops import rollout
from cockpit.ops.gates import parse_gate
from cockpit.ops.journal import Journal, OpState, operations
from cockpit.ops.rollout_view import GateSeries, RolloutView, chart_bounds, figure, limit_text, summary, view
from tests.conftest import FIXED_NOW
from tests.rollout_story import IN_PROGRESS, PROMOTED, ROLLED_BACK, write
from tests.test_rollout_engine import Listener, Recorder, reads


def story(tmp_path: Path, lines: list, outcome: tuple[str, str, str | None] | None,  # type: ignore[type-arg]
          alive: bool = False) -> RolloutView:
    """The view of one rollout written to a fresh audit log in `tmp_path` (made if need be)."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "audit.jsonl"
    path.unlink(missing_ok=True)
    write(path, "ab12cd34ef56", lines, outcome=outcome, alive=alive)
    (op,) = operations(AuditLog(path).lines()[0])
    v = view(op)
    assert v is not None
    return v


def test_a_running_rollout_reads_as_steps_gates_and_sides(tmp_path: Path) -> None:
    v = story(tmp_path, IN_PROGRESS, None, alive=True)
    assert v.running and v.op.state is OpState.RUNNING
    assert v.step_marks() == [(25, "done"), (50, "now"), (100, "next")]
    assert v.share == 50 and v.reached == 50 and not v.paused
    err, p95 = v.gates
    assert [p.value for p in err.points] == [None, 0.42, 1.3] and [p.passed for p in err.points] == [None, True, False]
    assert err.failures == 1 and p95.failures == 0 and v.failure_limit == 2
    assert math.isnan(err.values()[0])
    assert v.canary == {"p95": 2.45, "error_rate": 1.3, "rps": 10.5} and v.stable["p95"] == 2.2
    # the last reading was at 09:29:01, every 60 s: the next comes 1 s after the fixed now (09:30:00)
    assert v.next_reading_in(FIXED_NOW) == 1.0
    assert v.model == "registry/llama-70b-chat" and v.version == 7 and v.deployment


def test_ended_rollouts_mark_where_they_stopped(tmp_path: Path) -> None:
    promoted = story(tmp_path / "a", PROMOTED, ("09:29:03", "ok", None))
    assert promoted.op.state is OpState.OK
    assert promoted.step_marks() == [(25, "done"), (50, "done"), (100, "done")] and promoted.share == 100
    assert promoted.next_reading_in(FIXED_NOW) is None

    back = story(tmp_path / "b", ROLLED_BACK, ("09:30:00", "rolled back", "rolled back at 50%: error_rate"))
    assert back.op.state is OpState.ROLLED_BACK and back.share == 0
    assert back.step_marks() == [(25, "done"), (50, "stopped"), (100, "next")]
    assert [g.failures for g in back.gates] == [2, 1]

    dead = story(tmp_path / "c", IN_PROGRESS, None, alive=False)  # its process is gone: unfinished
    assert dead.op.state is OpState.UNFINISHED and dead.step_marks()[1] == (50, "stopped")


def test_a_pause_is_on_the_record(tmp_path: Path) -> None:
    lines = [*IN_PROGRESS, ("09:29:30", "paused: no step moves until resume", {"paused": True})]
    v = story(tmp_path, lines, None, alive=True)
    assert v.paused and v.step_marks()[1] == (50, "paused") and v.next_reading_in(FIXED_NOW) is None
    v = story(tmp_path / "x", [*lines, ("09:29:40", "resumed", {"paused": False})], None, alive=True)
    assert not v.paused


def test_other_operations_are_not_rollouts(tmp_path: Path) -> None:
    j = Journal(lambda: FIXED_NOW)
    j.begin("x1", "deploy scale", "gpu-prod/inference/router", "gpu-prod", "ui", "ops", {"replicas": 2})
    op = j.get("x1")
    assert op is not None and view(op) is None


def test_figures_read_in_their_units() -> None:
    assert figure("p95", 0.62) == "620ms" and figure("p95", 2.208) == "2.21s"
    assert figure("error_rate", 0.35) == "0.35%" and figure("rps", 37.24) == "37.2/s" and figure("rps", None) == "-"
    g = GateSeries("p95 < 3s", parse_gate("p95 < 3s"))
    assert limit_text(g) == "< 3.00s"
    assert chart_bounds(g, [0.5, 1.0]) == (0.0, 3.0)  # the threshold is in the chart's range
    assert chart_bounds(g, [4.0]) == (0.0, 4.0)
    assert limit_text(GateSeries("nonsense", None)) == "?"


def test_the_engine_writes_each_step_and_reading_as_facts() -> None:
    spec = rollout.Spec((50, 100), 0.0, (parse_gate("p95 < 800ms"),), 1)
    target, watch = Recorder(percent=50), Listener()
    done = rollout.run(spec, target, reads(0.5), watch, sleep=lambda _s: None)
    assert done.end is rollout.End.PROMOTED
    reading, shifted, promoted = watch.facts
    assert shifted == {"step": 100}
    assert reading["step"] == 50 and reading["verdict"] == "go"
    assert reading["readings"] == [{"gate": "p95 < 800ms", "value": 0.5, "passed": True, "why": ""}]
    assert reading["canary"] == {"p95": 0.5, "error_rate": 0.5, "rps": 0.5} and reading["stable"]["p95"] == 0.5
    assert promoted == {"step": 100, "end": "promoted"}

    target, watch = Recorder(percent=50), Listener()
    done = rollout.run(spec, target, reads(2.0), watch, sleep=lambda _s: None)
    assert done.end is rollout.End.ROLLED_BACK and watch.facts[-1] == {"step": 0, "end": "rolled back"}
    assert watch.facts[0]["readings"][0]["passed"] is False


def test_the_journal_keeps_facts_beside_the_words() -> None:
    clock = [FIXED_NOW]
    j = Journal(lambda: clock[0])
    j.begin("r1", "rollout start", "c/ns/x", "c", "ui", "ops", None)
    j.progress("r1", "50% to the new version", {"step": 50})
    clock[0] += timedelta(seconds=5)
    j.progress("r1", "a plain word")
    op = j.get("r1")
    assert op is not None and [m for _, m in op.steps] == ["50% to the new version", "a plain word"]
    assert op.facts == ((FIXED_NOW, {"step": 50}),)


def test_rollout_status_says_what_the_panel_shows(tmp_path: Path) -> None:
    lines = summary(story(tmp_path, IN_PROGRESS, None, alive=True))
    assert lines[0] == "steps: 25% done, 50% now, 100% next; canary takes 50% of traffic"
    assert lines[1] == ("gate error_rate < 1%: last 1.30% (limit < 1.00%), 1 of 2 failures; readings -, 0.42%, "
                        "1.30%")
    assert lines[2].startswith("gate p95 < 3s: last 2.45s (limit < 3.00s), 0 of 2 failures")
    assert lines[3] == ("canary p95 2.45s error_rate 1.30% rps 10.5/s · stable p95 2.20s error_rate 0.40% "
                        "rps 37.5/s (at 09:29:01)")
