"""The Kubernetes backend at scale: a fake cluster of 5,000 nodes and 100,000 pods.

    .venv/bin/python bench/bench_kube.py                  # 5,000 nodes, 100,000 pods, 5,000 events
    .venv/bin/python bench/bench_kube.py --nodes 500 --pods 10000

The fake API server runs in a child process (its own memory and CPU); this process runs the real
backend against it and prints: initial sync (paged lists of every kind, 500 per page, as client-go
does), the backend's memory for the cache, the cost of one watch event (decode excluded: JSON in,
record stored), the time to build a snapshot (nodes joined with their pods' GPU requests), and the
Nodes table's set_rows for all nodes.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, random
from pathlib import Path
from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube.server import KubeFake
nodes_n, pods_n, workdir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
fake = KubeFake(workdir)
fake.store.listeners.clear()  # no controller: the pods are created bound and running
fake.store._events = type(fake.store._events)(maxlen=20000)
NS, NODE, POD = res.find("", "v1", "namespaces"), res.find("", "v1", "nodes"), res.find("", "v1", "pods")
fake.store.create(NS, "", {"metadata": {"name": "bench"}})
for i in range(nodes_n):
    gpu = i % 4 != 0
    cap = {"cpu": "96", "memory": "1024Gi", "pods": "110"} | ({"nvidia.com/gpu": "8"} if gpu else {})
    labels = {"kubernetes.io/hostname": f"node-{i:05d}", "node.kubernetes.io/instance-type": "p4d.24xlarge"}
    if gpu:
        labels |= {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.memory": "81920"}
    fake.store.create(NODE, "", {"metadata": {"name": f"node-{i:05d}", "labels": labels}, "spec": {},
        "status": {"capacity": cap, "allocatable": cap, "conditions": [{"type": "Ready", "status": "True"}],
                   "nodeInfo": {"kubeletVersion": "v1.30.4"}}})
for i in range(pods_n):
    node = i % nodes_n
    gpus = 1 if node % 4 and i % 3 == 0 else 0
    res_ = {"requests": {"cpu": "500m", "memory": "2Gi"}} | ({"limits": {"nvidia.com/gpu": "1"}} if gpus else {})
    fake.store.create(POD, "bench", {"metadata": {"name": f"pod-{i:06d}", "labels": {"app": f"a{i % 50}"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": f"rs-{i % 50}", "controller": True, "uid": "x"}]},
        "spec": {"nodeName": f"node-{node:05d}", "containers": [{"name": "c", "image": "img:1", "resources": res_}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
fake.start()
print(json.dumps({"kubeconfig": str(fake.kubeconfig)}), flush=True)
for line in sys.stdin:
    k = int(line.split()[1])
    for j in range(k):
        name = f"pod-{random.randrange(pods_n):06d}"
        pod = fake.store.get(POD, "bench", name)
        pod["metadata"]["labels"]["rev"] = str(j)
        fake.store.update(POD, "bench", name, pod)
    print("done", flush=True)
"""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=5000)
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-kube-"))
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(args.nodes), str(args.pods), str(workdir)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None and child.stdin is not None
    kubeconfig = json.loads(child.stdout.readline())["kubeconfig"]
    print(f"fake cluster seeded: {args.nodes} nodes, {args.pods} pods in {time.perf_counter() - started:.1f} s")

    import kubernetes.client
    import kubernetes.config  # noqa: F401  (imported first: its memory is not the cache's)

    from backends.kubernetes.adapter import KubeBackend

    gc.collect()
    before = rss_mib()
    backend = KubeBackend("bench", kubeconfig=kubeconfig, context="admin", request_timeout=120)
    t0, c0 = time.perf_counter(), time.process_time()
    backend.cache.start()
    assert backend.cache.wait_synced(600), "did not sync"
    sync_s, sync_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    snap = backend.cache.snapshot()
    snapshot_s = time.perf_counter() - t0
    gc.collect()
    after = rss_mib()
    gpus = sum(n.gpu_allocated for n in snap.nodes)
    print(f"initial sync (list, {len(snap.nodes)} nodes + {snap.pod_count} pods, paged): {sync_s:.2f} s wall, "
          f"{sync_cpu:.2f} s CPU in the cockpit (the rest is the fake server)")
    print(f"snapshot (nodes joined with pods, {gpus} GPUs allocated): {snapshot_s * 1000:.0f} ms")
    print(f"backend memory for the cache: {after - before:.0f} MiB (RSS {after:.0f} MiB)")

    pods = backend.cache.informers["pods"][0]
    base_events, base_busy = pods.events, pods.busy_s
    t0 = time.perf_counter()
    child.stdin.write(f"churn {args.events}\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    while pods.events - base_events < args.events and time.perf_counter() - t0 < 120:
        time.sleep(0.01)
    got = pods.events - base_events
    per_event_us = (pods.busy_s - base_busy) / max(got, 1) * 1e6
    print(f"watch events applied: {got} in {time.perf_counter() - t0:.2f} s (server included); "
          f"per event {per_event_us:.0f} µs")
    t0 = time.perf_counter()
    snap = backend.cache.snapshot()
    print(f"snapshot after {got} events on random pods (most nodes touched): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    base = pods.events
    child.stdin.write("churn 50\n")
    child.stdin.flush()
    assert child.stdout.readline().strip() == "done"
    while pods.events - base < 50:
        time.sleep(0.01)
    t0 = time.perf_counter()
    snap = backend.cache.snapshot()
    print(f"snapshot after 50 events: {(time.perf_counter() - t0) * 1000:.0f} ms")

    from screens.nodes import node_row

    t0 = time.perf_counter()
    rows = [node_row(n, snap.as_of, None) for n in snap.nodes]  # type: ignore[arg-type]
    print(f"Nodes table rows built for {len(rows)} nodes: {(time.perf_counter() - t0) * 1000:.0f} ms")
    backend.close()
    child.kill()


if __name__ == "__main__":
    main()
