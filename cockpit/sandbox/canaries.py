"""The demo's canaries serve too: a pod the demo cluster runs for a rollout (`NAME-canary-*`) gets
request and latency series in the demo's Prometheus, with the figures of the model it runs, so a
guarded rollout in the demo reads the canary's own p95 and error rate and decides by them.

One version is bad on purpose: llama-70b-chat v7 answers three times slower and fails 6% of its
requests, so `rollout start registry/llama-70b-chat --version 7 ...` rolls itself back, while
v6 (as healthy as the stable) promotes itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.sandbox.kube.controller import POD
from cockpit.sandbox.kube.store import Store
from cockpit.sandbox.prom.fleet import SERVED, Served

QUALITY: Mapping[str, tuple[float, float]] = {"models:/llama-70b-chat/7": (3.0, 0.06)}
"""model URI -> (how many times slower its median answer is, the share of requests it fails)."""


def canary_pods(store: Store, cluster: str) -> list[Served]:
    """Each running canary pod of a workload the fleet serves, as the model in its env serves."""
    pods, _rv = store.select(POD, "", lambda o: "-canary-" in o["metadata"]["name"]
                             and (o.get("status") or {}).get("phase") == "Running")
    out = []
    for p in pods:
        name, ns = p["metadata"]["name"], p["metadata"]["namespace"]
        workload = name.split("-canary-")[0]
        base = next((s for s in SERVED if s.cluster == cluster and s.workload == workload), None)
        if base is None:
            continue
        env = {e.get("name"): e.get("value", "") for c in p["spec"].get("containers") or []
               for e in c.get("env") or []}
        slower, errors = QUALITY.get(str(env.get("MODEL_URI", "")), (1.0, base.error_ratio))
        out.append(Served(cluster, ns, f"{workload}-canary", name, base.rps, base.p50 * slower, errors))
    return out
