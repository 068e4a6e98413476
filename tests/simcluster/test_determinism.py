"""Same seed, ManualClock and calls give the same cluster; idle passes stay cheap."""

from __future__ import annotations

import time

from simcluster.cluster import SimCluster


def scripted_run(seed: int) -> SimCluster:
    cluster = SimCluster(seed=seed)
    cluster.load_estate("sample")
    cluster.settle()
    cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
    cluster.inject("node_not_ready", node="node-3")
    for _ in range(20):
        cluster.tick(30)
    return cluster


def test_same_seed_clock_and_calls_give_identical_state_and_alerts() -> None:
    first, second = scripted_run(11), scripted_run(11)
    assert first.store.digest() == second.store.digest()
    assert [p["metadata"]["uid"] for p in first.store.list("Pod")[0]] == [
        p["metadata"]["uid"] for p in second.store.list("Pod")[0]
    ]
    assert first.firing_alerts() == second.firing_alerts()


def test_idle_pass_over_a_thousand_pods_is_cheap() -> None:
    cluster = SimCluster(seed=2)
    cluster.load_estate("bare")
    for index in range(10):
        labels = {"app": f"bulk-{index}"}
        container = {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}
        cluster.store.create(
            "Deployment",
            {
                "metadata": {"name": f"bulk-{index}", "namespace": "default"},
                "spec": {
                    "replicas": 100,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
            },
        )
    cluster.settle(4)
    assert len(cluster.store.list("Pod")[0]) == 1000
    version = cluster.store.resource_version
    started = time.perf_counter()
    cluster.tick(1)
    elapsed = time.perf_counter() - started
    assert cluster.store.resource_version == version  # nothing changed, nothing written
    assert elapsed < 1.0
