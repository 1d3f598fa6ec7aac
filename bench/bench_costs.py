"""What the cost engine costs on a large fleet: the cluster split (allocate, then the namespace and
workload roll-ups), the burn over every node, and the idle-GPU join, on records shaped as the
backends make them. The Costs and Deployments screens run these on the UI thread at each refresh,
so they must stay well inside a frame budget per refresh, not per keystroke.

    .venv/bin/python bench/bench_costs.py [--nodes 2000] [--pods 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.allocation import NAMESPACE, WORKLOAD, allocate  # noqa: E402
from cockpit.costs import OnPremModel, burn  # noqa: E402
from cockpit.model_kube import ClusterSnapshot, Deployment, KubeNode, PodRef, RolloutState  # noqa: E402
from cockpit.prices import bundled  # noqa: E402
from cockpit.waste import GpuPeak, idle_gpus  # noqa: E402


def fleet(nodes: int, pods: int) -> ClusterSnapshot:
    per_node = pods // nodes
    deployments = tuple(Deployment("k8s", f"ns-{d % 50}", f"app-{d}", 2, 2, 2, 2, (), 1, RolloutState.COMPLETE, "")
                        for d in range(pods // 20))
    out = []
    for i in range(nodes):
        gpu = i % 2 == 0
        app = [(i * per_node + j) // 20 for j in range(per_node)]
        refs = tuple(PodRef(f"ns-{app[j] % 50}", f"app-{app[j]}-7d9f8-{j}", "Running", 1 if gpu and j < 8 else 0, (),
                            f"ReplicaSet/app-{app[j]}-7d9f8", 2000, 8192) for j in range(per_node))
        labels = (("eks.amazonaws.com/nodegroup", "gpu"),) if i % 4 == 0 else ()
        out.append(KubeNode("k8s", f"node-{i:05d}", True, False, (), "v1.30", None, 96000, 95000, 1024 * 1024,
                            1000 * 1024, gpu_capacity=8 if gpu else 0, gpu_allocatable=8 if gpu else 0,
                            gpu_product="NVIDIA-A100-SXM4-80GB" if gpu else "", labels=labels,
                            instance_type="p4d.24xlarge" if i % 4 == 0 else "metal", zone="us-east-1a", pods=refs))
    return ClusterSnapshot("k8s", "k8s", "https://k8s", nodes=tuple(out), deployments=deployments)


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--pods", type=int, default=100_000)
    args = ap.parse_args()
    cat, onprem = bundled(), OnPremModel()
    snap = fleet(args.nodes, args.pods)
    from cockpit.allocation import _allocate

    a, ms_alloc = timed(lambda: _allocate((snap,), cat, onprem))  # the work itself, past the memo
    _, ms_memo = timed(lambda: allocate([snap], cat, onprem))
    tracemalloc.start()
    _allocate((snap,), cat, onprem)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _, ms_ns = timed(lambda: a.by(NAMESPACE))
    _, ms_wl = timed(lambda: a.by(WORKLOAD))
    _, ms_burn = timed(lambda: burn([], cat, onprem, snap.nodes))
    peaks = [GpuPeak("prom", "k8s", n.name, str(g), "NVIDIA A100-SXM4-80GB", 1.0 if g == 0 else 60.0)
             for n in snap.nodes if n.gpu_capacity for g in range(8)]
    w, ms_idle = timed(lambda: idle_gpus(peaks, [], [snap], cat, onprem))
    print(f"fleet: {args.nodes} nodes, {len(a.pods)} pods, {len(snap.deployments)} Deployments")
    print(f"allocate (price and split every node): {ms_alloc:.0f} ms, peak {peak / 2**20:.0f} MiB allocated; "
          f"the same snapshots again (memo): {ms_memo:.3f} ms")
    print(f"roll-up by namespace: {ms_ns:.0f} ms; by workload: {ms_wl:.0f} ms")
    print(f"burn over the nodes: {ms_burn:.0f} ms")
    print(f"idle join: {len(peaks)} GPU peaks, {len(w.idle)} idle: {ms_idle:.0f} ms")
    compose_bench(cat)


def compose_bench(cat: Any) -> None:
    """Compute Engine's refresh after the SKUs are read: the real catalogue lists tens of thousands
    of SKUs (every region, license, disk and commitment); parse them and compose every type."""
    from backends.gcp.prices import offers, rates_of, shape_of
    from cockpit.sandbox.gcp_prices import REGIONS, skus

    regions = {f"{r}-{i}" if i else r: v for i in range(180) for r, v in REGIONS.items()}  # 720 regions
    every = skus(regions=regions)
    known = {(k, r): o for (c, k, r), o in cat.offers.items() if c == "gcp"}
    wanted = sorted({(k, r) for k, _ in known for r in regions})
    shapes = {(k, r): sh for (k, _), o in known.items() for r in regions if (sh := shape_of(o)) is not None}
    rates, ms_rates = timed(lambda: rates_of(every))
    got, ms_compose = timed(lambda: offers(rates, wanted, shapes, {}))
    print(f"gcp refresh: {len(every)} SKUs parsed into {len(rates)} rates in {ms_rates:.0f} ms; "
          f"{len(got)} of {len(wanted)} types x regions composed in {ms_compose:.0f} ms")


if __name__ == "__main__":
    main()
