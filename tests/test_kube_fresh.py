"""Issue 14: the Kubernetes reads after our own change show it (read-your-writes through the watch
cache), and a read where one object of a kind cannot be translated names that failure and exits 1
while still showing the rest. Real subprocesses against the API fake, read back with kubectl."""

from __future__ import annotations

from pathlib import Path

from cockpit.sandbox.kube.server import KubeFake
from tests.kube_helpers import kget, kubectl, kubectl_missing
from tests.test_kube_script import cockpit, lines

pytestmark = kubectl_missing

ROUNDS = 6
LAG = 0.3
"""Watch delivery lags each write by this much, as a busy real API server's may: without read-your-writes
the read in the next line shows the state from before the change."""


def test_a_read_in_the_next_script_line_shows_our_change(tmp_path: Path, kube: KubeFake) -> None:
    """Each round reads first (so the watch cache is running), changes, and reads at once: the read
    must show the change every time, not the state the watch had before its event arrived."""
    kube.api.watch_lag = LAG
    rounds = []
    for i in range(ROUNDS):
        replicas = 3 + i % 2
        percent = 20 + i
        image = f"ghcr.io/hf/tei:1.{6 + i}"
        rounds.append(f"""\
deploy list --namespace inference
deploy scale inference/router {replicas} --no-wait
deploy list --namespace inference
deploy set-image inference/embedder {image} --no-wait
deploy list --namespace inference
node cordon l4-01
node list
node uncordon l4-01
node list
hpa set inference/router --max {10 + i}
hpa list
isvc canary inference/mistral-7b {percent}
isvc list
""")
    followed = "deploy scale inference/router 5\ndeploy list --namespace inference\n"  # waits for the rollout
    r = cockpit(tmp_path, kube, "--script", "-", "-o", "json", "--yes", stdin="".join(rounds) + followed)
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["status"] for o in out] == ["ok"] * (13 * ROUNDS + 2), r.stderr
    assert {d["name"]: d for d in out[-1]["data"]}["router"]["replicas"] == 5
    for i in range(ROUNDS):
        got = out[13 * i:13 * (i + 1)]
        deploys = {d["name"]: d for d in got[2]["data"]}
        assert deploys["router"]["replicas"] == 3 + i % 2, (i, "deploy list after scale")
        images = {d["name"]: d["images"] for d in got[4]["data"]}
        assert images["embedder"] == [f"ghcr.io/hf/tei:1.{6 + i}"], (i, "deploy list after set-image")
        cordoned = {n["name"]: n["unschedulable"] for n in got[6]["data"]}
        assert cordoned["l4-01"] is True, (i, "node list after cordon")
        uncordoned = {n["name"]: n["unschedulable"] for n in got[8]["data"]}
        assert uncordoned["l4-01"] is False, (i, "node list after uncordon")
        hpas = {h["name"]: h for h in got[10]["data"]}
        assert hpas["router"]["max_replicas"] == 10 + i, (i, "hpa list after hpa set")
        isvcs = {s["name"]: s for s in got[12]["data"]}
        assert isvcs["mistral-7b"]["canary_percent"] == 20 + i, (i, "isvc list after isvc canary")
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 5


def test_a_drain_is_seen_by_the_next_node_list(tmp_path: Path, kube: KubeFake) -> None:
    """The evicted pods are gone from the node in the very next read (the fake deletes at once)."""
    kube.api.watch_lag = LAG
    script = "node list\nnode drain a100-01 --timeout 5s\nnode list\nnode show a100-01\n"
    r = cockpit(tmp_path, kube, "--script", "-", "-o", "json", "--yes", stdin=script)
    assert r.returncode == 0, r.stderr
    before, drain, after, show = lines(r.stdout)
    evicted = {p.split("/", 1)[1] for p in drain["data"]["evicted"]}
    held = {n["name"]: n for n in before["data"]}["a100-01"]
    assert evicted and evicted <= {p["name"] for p in held["pods"]}
    node = {n["name"]: n for n in after["data"]}["a100-01"]
    assert node["unschedulable"] is True
    assert not evicted & {p["name"] for p in node["pods"]}, "node list after drain still shows evicted pods"
    assert not evicted & {p["name"] for p in show["data"]["pods"]}


def _break_reranker(kube: KubeFake) -> None:
    kubectl(kube, "patch", "deploy", "reranker", "-n", "inference", "--type=merge", "-p",
            '{"spec":{"replicas":"two"}}')
    assert kget(kube, "deploy", "reranker", "-n", "inference")["spec"]["replicas"] == "two"


def test_one_bad_deployment_fails_the_read_but_keeps_the_others(tmp_path: Path, kube: KubeFake) -> None:
    _break_reranker(kube)
    r = cockpit(tmp_path, kube, "-o", "json", "deploy", "list")
    assert r.returncode == 1, (r.stdout, r.stderr)
    (out,) = lines(r.stdout)
    names = {d["name"] for d in out["data"]}
    assert {"router", "embedder", "llama-70b"} <= names and "reranker" not in names
    assert out["error"] == "lab: deployments: inference/reranker: ValueError: invalid literal for int() with " \
                           "base 10: 'two'"
    # as text: the rows of the others on stdout, one line on stderr naming the failure
    r = cockpit(tmp_path, kube, "deploy", "list")
    assert r.returncode == 1
    assert "lab/inference/router" in r.stdout and "lab/inference/reranker" not in r.stdout
    assert r.stderr.splitlines() == ["cockpit: lab: deployments: inference/reranker: ValueError: invalid literal "
                                     "for int() with base 10: 'two'"], r.stderr
    # the other kinds of that cluster read fine
    r = cockpit(tmp_path, kube, "-o", "json", "node", "list")
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout)[0]["error"] is None


def test_a_bad_object_arriving_by_watch_is_reported_and_the_kind_stays_current(tmp_path: Path,
                                                                               kube: KubeFake) -> None:
    """The watch is running when the object turns bad; later changes to other Deployments still arrive,
    and once it is repaired the failure goes away."""
    from cockpit.audit import AuditLog
    from cockpit.commands import Context, build_registry
    from cockpit.config import Config
    from cockpit.hub import Hub
    from cockpit.sandbox import kube_source
    from tests.conftest import FIXED_NOW

    hub = Hub(Config(sources=(kube_source("lab", kube.kubeconfig),), audit_path=tmp_path / "a.jsonl"),
              now=lambda: FIXED_NOW)
    reg = build_registry()
    ctx = Context(hub=hub, audit=AuditLog(hub.config.audit_path), origin="script")
    kube.api.watch_lag = LAG
    try:
        first = reg.run_line("deploy list", ctx)
        assert first.status == "ok"
        _break_reranker(kube)
        reg.run_line("deploy scale lab/inference/router 3 --no-wait", ctx, yes=True)
        r = reg.run_line("deploy list", ctx)
        assert r.status == "failed" and r.outcome.error is not None
        why = r.outcome.error.message
        assert why.startswith("lab: deployments: inference/reranker: ValueError"), why
        got = {d["name"]: d for d in r.outcome.data}
        assert "reranker" not in got and got["router"]["replicas"] == 3
        kubectl(kube, "patch", "deploy", "reranker", "-n", "inference", "--type=merge", "-p",
                '{"spec":{"replicas":2}}')
        reg.run_line("deploy scale lab/inference/router 4 --no-wait", ctx, yes=True)
        r = reg.run_line("deploy list", ctx)
        got = {d["name"]: d for d in r.outcome.data}
        assert r.status == "ok", r.error
        assert got["reranker"]["replicas"] == 2 and got["router"]["replicas"] == 4
    finally:
        hub.close()
