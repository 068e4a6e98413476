"""Starting estates: "bare" (three Ready nodes) and "sample" (a small shop with a handful of
apps across namespaces, healthy after a few ticks)."""

from __future__ import annotations

from typing import Any

from simcluster.store import ObjectStore

Obj = dict[str, Any]
NAMESPACES = ("default", "kube-system", "monitoring", "shop", "payments", "batch", "scutum")
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}


def node(name: str, index: int) -> Obj:
    """A Ready worker node with 4 CPUs and 16Gi of memory."""
    capacity = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
                "topology.kubernetes.io/zone": f"zone-{'abc'[index % 3]}",
            },
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24"},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{index + 10}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.30.0",
                "osImage": "simcluster",
                "containerRuntimeVersion": "containerd://1.7",
            },
        },
    }


def _container(name: str, image: str, port: int, **extra: Any) -> Obj:
    return {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": port}],
        "resources": RESOURCES,
        **extra,
    }


def _pod_template(app: str, containers: list[Obj], volumes: list[Obj] | None = None) -> Obj:
    spec: Obj = {"containers": containers}
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def deployment(namespace: str, app: str, replicas: int, template: Obj, *, depends_on: str = "") -> Obj:
    """A Deployment of `app` with the default rolling-update strategy."""
    meta: Obj = {"name": app, "namespace": namespace, "labels": {"app": app}}
    if depends_on:
        meta["annotations"] = {"sim.scutum.dev/depends-on": depends_on}
    return {
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": template,
            "revisionHistoryLimit": 10,
        },
    }


def service(namespace: str, app: str, port: int, *, headless: bool = False) -> Obj:
    """A Service selecting `app`, port 80 to the named container port."""
    spec: Obj = {
        "selector": {"app": app},
        "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"}],
    }
    if headless:
        spec["clusterIP"] = "None"
    return {"metadata": {"name": app, "namespace": namespace, "labels": {"app": app}}, "spec": spec}


def _configmap(namespace: str, name: str, data: dict[str, str]) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


def _shop() -> list[tuple[str, Obj]]:
    frontend = _pod_template(
        "frontend",
        [
            _container(
                "frontend",
                "ghcr.io/example/frontend:1.4.2",
                8080,
                env=[{"name": "THEME", "valueFrom": {"configMapKeyRef": {"name": "frontend-config", "key": "theme"}}}],
            )
        ],
    )
    cart = _pod_template(
        "cart",
        [_container("cart", "ghcr.io/example/cart:2.1.0", 7070, envFrom=[{"configMapRef": {"name": "cart-config"}}])],
    )
    catalog = _pod_template(
        "catalog",
        [
            _container(
                "catalog",
                "ghcr.io/example/catalog:0.9.1",
                3550,
                volumeMounts=[{"name": "config", "mountPath": "/etc/catalog"}],
            )
        ],
        [{"name": "config", "configMap": {"name": "catalog-config"}}],
    )
    return [
        ("ConfigMap", _configmap("shop", "frontend-config", {"theme": "light", "currency": "EUR"})),
        ("ConfigMap", _configmap("shop", "cart-config", {"CART_TTL": "3600", "REDIS_ADDR": "cart-cache:6379"})),
        ("ConfigMap", _configmap("shop", "catalog-config", {"catalog.yaml": "products: 42\n"})),
        ("Deployment", deployment("shop", "frontend", 3, frontend, depends_on="cart,catalog")),
        ("Deployment", deployment("shop", "cart", 2, cart)),
        ("Deployment", deployment("shop", "catalog", 2, catalog)),
        ("Service", service("shop", "frontend", 8080)),
        ("Service", service("shop", "cart", 7070)),
        ("Service", service("shop", "catalog", 3550)),
        (
            "PodDisruptionBudget",
            {
                "metadata": {"name": "cart", "namespace": "shop"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "cart"}}},
            },
        ),
        (
            "PodDisruptionBudget",
            {
                "metadata": {"name": "frontend", "namespace": "shop"},
                "spec": {"maxUnavailable": "34%", "selector": {"matchLabels": {"app": "frontend"}}},
            },
        ),
        (
            "HorizontalPodAutoscaler",
            {
                "metadata": {"name": "cart", "namespace": "shop"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"},
                    "minReplicas": 2,
                    "maxReplicas": 6,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                        }
                    ],
                },
            },
        ),
    ]


def _payments() -> list[tuple[str, Obj]]:
    api = _pod_template(
        "payments-api",
        [
            _container(
                "api",
                "ghcr.io/example/payments-api:3.2.0",
                8443,
                env=[
                    {"name": "LEDGER_URL", "value": "http://ledger:80"},
                    {
                        "name": "LIMIT",
                        "valueFrom": {"configMapKeyRef": {"name": "payments-api-config", "key": "LIMIT"}},
                    },
                ],
            )
        ],
    )
    ledger = _pod_template("ledger", [_container("ledger", "postgres:16.3", 5432)])
    return [
        ("ConfigMap", _configmap("payments", "payments-api-config", {"LIMIT": "1000"})),
        ("Deployment", deployment("payments", "payments-api", 3, api, depends_on="ledger")),
        ("Service", service("payments", "payments-api", 8443)),
        ("Service", service("payments", "ledger", 5432, headless=True)),
        (
            "StatefulSet",
            {
                "metadata": {"name": "ledger", "namespace": "payments", "labels": {"app": "ledger"}},
                "spec": {
                    "replicas": 3,
                    "serviceName": "ledger",
                    "selector": {"matchLabels": {"app": "ledger"}},
                    "template": ledger,
                },
            },
        ),
        (
            "PodDisruptionBudget",
            {
                "metadata": {"name": "payments-api", "namespace": "payments"},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "payments-api"}}},
            },
        ),
    ]


def _platform() -> list[tuple[str, Obj]]:
    exporter = _pod_template(
        "node-exporter", [_container("node-exporter", "quay.io/prometheus/node-exporter:v1.8.1", 9100)]
    )
    report = _pod_template(
        "nightly-report", [{"name": "report", "image": "ghcr.io/example/report:1.0.0", "resources": RESOURCES}]
    )
    report["spec"]["restartPolicy"] = "OnFailure"
    coredns = _pod_template("coredns", [_container("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 53)])
    return [
        ("Deployment", deployment("kube-system", "coredns", 2, coredns)),
        ("Service", service("kube-system", "coredns", 53)),
        (
            "DaemonSet",
            {
                "metadata": {"name": "node-exporter", "namespace": "monitoring", "labels": {"app": "node-exporter"}},
                "spec": {"selector": {"matchLabels": {"app": "node-exporter"}}, "template": exporter},
            },
        ),
        (
            "CronJob",
            {
                "metadata": {"name": "nightly-report", "namespace": "batch"},
                "spec": {
                    "schedule": "*/15 * * * *",
                    "concurrencyPolicy": "Forbid",
                    "jobTemplate": {"spec": {"backoffLimit": 2, "template": report}},
                },
            },
        ),
    ]


def load(store: ObjectStore, name: str) -> None:
    """Create the objects of the named estate; ValueError for an unknown name."""
    if name not in ("sample", "bare"):
        raise ValueError(f"unknown estate {name!r}; known: bare, sample")
    node_count = 3 if name == "bare" else 4
    for index in range(node_count):
        store.create("Node", node(f"node-{index + 1}", index))
    namespaces = ("default", "kube-system") if name == "bare" else NAMESPACES
    for namespace in namespaces:
        store.create(
            "Namespace",
            {
                "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )
    if name == "bare":
        return
    for kind, obj in _shop() + _payments() + _platform():
        store.create(kind, obj)
