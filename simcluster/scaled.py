"""A scaled estate: N Deployments (each with a ConfigMap it reads and a Service in front),
spread over namespaces and enough nodes for their pods. For cluster-size benchmarks.

    cluster = SimCluster()
    load_scaled(cluster.store, deployments=10_000)
    cluster.settle(passes=4)   # ReplicaSets, pods, binding, status, endpoints
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simcluster.estate import deployment, node, service
from simcluster.store import ObjectStore

Obj = dict[str, Any]
PODS_PER_NODE = 250
"""Pod capacity of each scaled node; nodes are added until every pod fits."""


@dataclass(frozen=True)
class ScaledEstate:
    """What `load_scaled` created, by name."""

    namespaces: tuple[str, ...]
    deployments: tuple[tuple[str, str], ...]
    """(namespace, name) of every Deployment, in creation order."""
    nodes: int


def _app_template(app: str) -> Obj:
    container = {
        "name": "main",
        "image": f"registry.example/{app}:1.0",
        "ports": [{"name": "http", "containerPort": 8080}],
        "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
        "envFrom": [{"configMapRef": {"name": f"{app}-config"}}],
    }
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [container]}}


def _node(index: int) -> Obj:
    obj = node(f"node-{index + 1}", index)
    capacity = {"cpu": "64", "memory": "256Gi", "pods": str(PODS_PER_NODE), "ephemeral-storage": "100Gi"}
    obj["status"]["capacity"] = capacity
    obj["status"]["allocatable"] = dict(capacity)
    return obj


def load_scaled(
    store: ObjectStore, *, deployments: int, namespaces: int = 20, replicas: int = 1, nodes: int | None = None
) -> ScaledEstate:
    """Create `deployments` Deployments (with a ConfigMap and a Service each) over `namespaces`
    namespaces, and `nodes` nodes (default: enough for every pod). Linear in `deployments`."""
    node_count = nodes if nodes is not None else max(3, -(-deployments * replicas // PODS_PER_NODE))
    for index in range(node_count):
        store.create("Node", _node(index))
    names = tuple(f"team-{n:02d}" for n in range(namespaces))
    for name in names:
        store.create("Namespace", {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
    created = []
    for index in range(deployments):
        namespace, app = names[index % namespaces], f"svc-{index:05d}"
        store.create("ConfigMap", {"metadata": {"name": f"{app}-config", "namespace": namespace}, "data": {"N": "1"}})
        store.create("Deployment", deployment(namespace, app, replicas, _app_template(app)))
        store.create("Service", service(namespace, app, 8080))
        created.append((namespace, app))
    return ScaledEstate(namespaces=names, deployments=tuple(created), nodes=node_count)
