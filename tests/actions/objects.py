"""Builders for the Kubernetes objects the action tests put into simcluster."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
NS = "shop"


def meta(name: str, namespace: str | None = NS, **labels: str) -> Obj:
    result: Obj = {"name": name, "labels": labels or {"app": name}}
    if namespace:
        result["namespace"] = namespace
    return result


def namespace(name: str = NS) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def node(name: str) -> Obj:
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def container(image: str = "shop/web:1.0", **extra: Any) -> Obj:
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}}
    return {"name": "app", "image": image, "resources": resources, **extra}


def template(name: str, image: str = "shop/web:1.0", **extra: Any) -> Obj:
    return {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container(image, **extra)]}}


def deployment(name: str = "web", replicas: int = 2, image: str = "shop/web:1.0", **extra: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, image, **extra),
        },
    }


def statefulset(name: str = "db", replicas: int = 2, image: str = "shop/db:1.0") -> Obj:
    body = deployment(name, replicas, image)
    body["kind"] = "StatefulSet"
    body["spec"]["serviceName"] = name
    return body


def daemonset(name: str = "agent", image: str = "shop/agent:1.0") -> Obj:
    body = deployment(name, 1, image)
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    return body


def hpa(target: str, low: int, high: int) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(f"{target}-hpa"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": low,
            "maxReplicas": high,
        },
    }


def configmap(name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name), "data": data}


def service(name: str, selector: dict[str, str], port: int = 80) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name),
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def pdb(name: str, app: str, min_available: int) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name),
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}},
    }


def cronjob(name: str = "report") -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name),
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}}},
        },
    }
