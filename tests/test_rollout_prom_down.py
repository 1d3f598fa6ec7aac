"""A rollout whose Prometheus goes down half way pauses where it is: no data is never a pass, so it
neither promotes nor moves the alias, for an InferenceService and a plain Deployment alike; the
traffic stays split (read back with kubectl) for a person to decide, and `rollout abort` restores it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.commands import Context, build_registry
from cockpit.contracts import REGISTRY
from cockpit.ops.journal import OpState, operations
from cockpit.ops.rollout_view import view
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.rollout_helpers import own_prometheus, rollout_context
from tests.test_rollout import GOOD
from tests.test_rollout_control import split, stable_kept

pytestmark = [kubectl_missing, prometheus_missing]

LINES = {
    "isvc": "rollout start reg/bge-large --version 2 --to gpu-prod/inference/whisper-large",
    "deploy": "rollout start reg/llama-70b-chat --version 7 --to gpu-prod/inference/llama-70b",
}
TAIL = f" --steps 25,50,100 --interval 1s --prometheus prom --promote-alias production --gate '{GOOD}'"
MODEL = {"isvc": "bge-large", "deploy": "llama-70b-chat"}


@pytest.fixture
def own_prom() -> Iterator[PromServer]:
    """A Prometheus of this test's own: it is stopped half way (the session's serves the others)."""
    with own_prometheus() as server:
        yield server


@pytest.fixture
def ctx(kube: KubeFake, db: Path, tmp_path: Path, own_prom: PromServer) -> Iterator[Context]:
    with rollout_context(kube, db, tmp_path, own_prom.url) as c:
        yield c


@pytest.mark.parametrize("kind", ["isvc", "deploy"])
def test_prometheus_going_down_half_way_pauses_and_never_promotes(ctx: Context, kube: KubeFake,
                                                                 own_prom: PromServer, kind: str) -> None:
    assert ctx.journal is not None
    alias = ctx.hub.call("reg", REGISTRY, lambda b: b.model(MODEL[kind])).alias("production")
    stopped = threading.Event()

    def heard(op: Any) -> None:
        """The first step's gates held: Prometheus goes down before the engine moves on (this runs on
        the rollout's own thread, so the next step cannot begin before the server is gone)."""
        if not stopped.is_set() and any(f.get("verdict") == "go" and f.get("step") == 25 for _, f in op.facts):
            own_prom.stop()
            stopped.set()

    ctx.journal.subscribe(heard)
    r = build_registry().run_line(LINES[kind] + TAIL, ctx, yes=True)
    assert stopped.is_set()
    assert (r.status, r.exit_code) == ("failed", 1)
    assert "paused at 50%: no data in 3 readings in a row" in str(r.error)
    assert split(kube, kind)  # held where it was, traffic still on both sides
    assert ctx.hub.call("reg", REGISTRY, lambda b: b.model(MODEL[kind])).alias("production") == alias

    (op,) = operations(ctx.audit.lines()[0])
    v = view(op)
    assert op.state is OpState.PAUSED and v is not None and v.share == 50 and v.split
    assert [p.value is None for p in v.gates[0].points] == [False, True, True, True]  # 1 reading, then none

    aborted = build_registry().run_line(f"rollout abort {op.id}", ctx, yes=True)
    assert aborted.status == "ok", aborted.error
    assert not split(kube, kind) and stable_kept(kube, kind)
