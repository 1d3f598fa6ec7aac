"""A rollout as the panel reads it from its record (cockpit.ops.rollout_view): steps done and to
come, each gate's readings over time, the canary beside the stable, paused or ended; and the
engine writes those facts as it goes (cockpit.ops.rollout)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from cockpit.audit import AuditLog
from cockpit.contracts import BackendError
from cockpit.ops import rollout
from cockpit.ops.gates import Canary, figure, parse_gate, recorded
from cockpit.ops.journal import Journal, OpState, operations
from cockpit.ops.rollout_view import GateSeries, RolloutView, chart_bounds, gate_value, limit_text, summary, view
from screens import rollout_draw as draw
from tests.conftest import FIXED_NOW
from tests.rollout_story import IN_PROGRESS, PROMOTED, ROLLED_BACK, reading, write
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


class Unsteady(Recorder):
    """A target whose stable cannot be found (the API answers 503) and, when asked, whose roll back
    fails too."""

    def __init__(self, fail_back: bool = False, **kw: int) -> None:
        super().__init__(**kw)
        self.fail_back = fail_back

    def stable(self) -> Canary:
        raise BackendError("gpu-prod: 503 service unavailable")

    def roll_back(self) -> str:
        if self.fail_back:
            raise BackendError("gpu-prod: 503 service unavailable")
        return super().roll_back()


def test_the_stable_side_is_shown_never_judged() -> None:
    """A failure to find the stable's series leaves its side empty; the gates alone decide."""
    spec = rollout.Spec((50, 100), 0.0, (parse_gate("p95 < 800ms"),), 1)
    watch = Listener()
    done = rollout.run(spec, Unsteady(percent=50), reads(0.5), watch, sleep=lambda _s: None)
    assert done.end is rollout.End.PROMOTED
    assert watch.facts[0]["stable"] == {} and watch.facts[0]["canary"]["p95"] == 0.5


def test_a_roll_back_that_fails_is_no_roll_back() -> None:
    spec = rollout.Spec((25, 50, 100), 0.0, (parse_gate("p95 < 800ms"),), 1)
    done = rollout.run(spec, Unsteady(fail_back=True, percent=25, fail_at=50), reads(0.5), Listener(),
                       sleep=lambda _s: None)
    assert done.end is rollout.End.FAILED and "may still take traffic" in done.why


def test_hostile_and_infinite_figures(tmp_path: Path) -> None:
    """+Inf (a p95 above the histogram's top bucket) is a reading that fails, kept as Prometheus
    spells it; a string, NaN or a number too large for a float in the record is unknown."""
    over = reading(50, "roll back", 6.0, None)
    over["readings"][1] |= {"value": "+Inf", "passed": False}
    over["canary"] = {"p95": "+Inf", "error_rate": 10**400, "rps": "lots"}
    over["stable"] = {"p95": float("nan"), "error_rate": [1], "rps": True}
    v = story(tmp_path, [*IN_PROGRESS[:4], ("09:29:01", "at 50%: hostile", over)], None, alive=True)
    p95 = v.gates[1]
    assert p95.last is not None and p95.last.value == math.inf and p95.last.passed is False
    assert v.canary == {"p95": math.inf, "error_rate": None, "rps": None}
    assert v.stable == {"p95": None, "error_rate": None, "rps": None}
    assert figure("p95", math.inf) == "+Inf" and gate_value(p95, math.inf) == "+Inf"
    assert chart_bounds(p95, [math.inf, 2.0]) == (0.0, 3.0)
    assert str(draw.spark(p95, 10)).endswith("█")  # drawn full height, not a crash
    assert recorded(math.inf) == "+Inf" and recorded(2.0) == 2.0


def test_a_person_promoting_early_skips_the_steps_above(tmp_path: Path) -> None:
    lines = [*IN_PROGRESS[:3],
             ("09:28:30", "promoted by a person at 25%: the remaining steps and gates are skipped", None),
             ("09:28:31", "promoted: the stable rolls", {"step": 100, "end": "promoted"})]
    lines[0] = (lines[0][0], lines[0][1], {"step": 25})
    v = story(tmp_path, [lines[0], lines[1], lines[3], lines[4]], ("09:28:31", "ok", None))
    assert v.step_marks() == [(25, "skipped"), (50, "skipped"), (100, "done")] and not v.split  # no gate held at 25


def test_the_countdown_stops_while_paused(tmp_path: Path) -> None:
    # last reading 09:29:01, every 60 s; paused 09:29:10 to 09:29:40: 30 s of the minute did not run
    lines = [*IN_PROGRESS, ("09:29:10", "paused", {"paused": True}), ("09:29:40", "resumed", {"paused": False})]
    assert story(tmp_path, lines, None, alive=True).next_reading_in(FIXED_NOW) == 31.0


def test_a_record_without_its_shape_says_unknown(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, "0ld0ld0ld0ld", IN_PROGRESS[:1], outcome=None)
    (op,) = operations(AuditLog(path).lines()[0])
    v = view(replace(op, new={"model": "models:/llama-70b-chat/7", "canary": "llama-70b-canary"}))
    assert v is not None and v.failure_limit is None and v.steps == (25,) and v.gates == ()
    assert summary(v)[0].startswith("steps: 25% stopped")


def test_the_head_says_where_the_traffic_is_and_what_it_replaces(tmp_path: Path) -> None:
    running = story(tmp_path / "a", IN_PROGRESS, None, alive=True)
    assert draw.share(running) == "canary ~50% of traffic (by pods)"  # a Deployment: by its pods
    head = str(draw.head(running, FIXED_NOW))
    assert "registry/llama-70b-chat v7, replacing models:/llama-70b-chat/6" in head
    back = story(tmp_path / "b", ROLLED_BACK, ("09:30:00", "rolled back", "rolled back at 50%"))
    assert draw.share(back) == "all traffic on the stable" and "(ended 09:30:00)" in str(draw.head(back, FIXED_NOW))
    done = story(tmp_path / "c", PROMOTED, ("09:29:03", "ok", None))
    assert draw.share(done) == "all traffic on the new version"
    assert "then production → v7" in str(draw.steps(done)) and "back at 2 fails" in str(draw.steps(done))
