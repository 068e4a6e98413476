"""Benchmark: simcluster's API server through the official Kubernetes client over HTTP.

Run with `python -m bench.sim_api_bench [--seconds S] [--pods N] [--json]`. Reports requests
per second for GET of one pod, LIST of N pods (1,000 by default; both with the client's model
decoding and as raw JSON, which shows the server's own cost) and PATCH of a ConfigMap, so later
agent benchmarks know simcluster is not their bottleneck.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import kubernetes.client
import kubernetes.config

from simcluster.clock import ManualClock
from simcluster.harness import running_sim
from simcluster.store import ObjectStore

NS = "bench"


def _seed(store: ObjectStore, pods: int) -> None:
    store.create("Namespace", {"metadata": {"name": NS}})
    store.create("ConfigMap", {"metadata": {"name": "target", "namespace": NS}, "data": {"n": "0"}})
    for n in range(pods):
        labels = {"app": f"app-{n % 20}", "tier": "web"}
        container = {"name": "main", "image": "nginx:1.25", "resources": {"requests": {"cpu": "10m"}}}
        pod = {
            "metadata": {"name": f"pod-{n:05d}", "namespace": NS, "labels": labels},
            "spec": {"containers": [container]},
        }
        store.create("Pod", pod)


def _rate(call: Callable[[int], object], seconds: float) -> tuple[int, float]:
    """Call repeatedly for about `seconds`; returns (requests, requests per second)."""
    count, start = 0, time.perf_counter()
    while True:
        call(count)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count, count / elapsed


def measure(seconds: float, pods: int) -> dict[str, tuple[int, float]]:
    """Requests and requests per second for each operation."""
    with running_sim("bare", clock=ManualClock()) as sim:
        _seed(sim.cluster.store, pods)
        api = kubernetes.config.new_client_from_config(config_file=str(sim.kubeconfig_path))
        core = kubernetes.client.CoreV1Api(api)
        try:
            operations: dict[str, Callable[[int], object]] = {
                "GET pod": lambda n: core.read_namespaced_pod(f"pod-{n % pods:05d}", NS),
                f"LIST {pods} pods (client models)": lambda _: core.list_namespaced_pod(NS),
                f"LIST {pods} pods (raw JSON)": lambda _: core.list_namespaced_pod(NS, _preload_content=False).data,
                "LIST pods by label": lambda n: core.list_namespaced_pod(NS, label_selector=f"app=app-{n % 20}"),
                "PATCH configmap": lambda n: core.patch_namespaced_config_map("target", NS, {"data": {"n": str(n)}}),
            }
            return {name: _rate(call, seconds) for name, call in operations.items()}
        finally:
            api.close()


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="wall seconds per operation")
    parser.add_argument("--pods", type=int, default=1000, help="pods in the listed namespace")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    results = measure(args.seconds, args.pods)
    if args.json:
        print(json.dumps({name: {"requests": n, "per_second": round(rate, 1)} for name, (n, rate) in results.items()}))
        return 0
    width = max(len(name) for name in results)
    print(f"{'operation':<{width}}  {'requests':>8}  {'req/s':>9}")
    for name, (count, rate) in results.items():
        print(f"{name:<{width}}  {count:>8}  {rate:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
