"""Subresources with their own shapes: `/scale` (autoscaling/v1 Scale), `/eviction`, `/log`."""

from __future__ import annotations

from typing import Any, Protocol

from simcluster.errors import BadRequest, Conflict
from simcluster.http.messages import Request, Response, status_success
from simcluster.http.routing import ResourceRoute
from simcluster.patch import apply_patch
from simcluster.store import ObjectStore

Obj = dict[str, Any]


class Evictor(Protocol):
    """What the eviction subresource needs: the cluster's PDB-aware eviction."""

    def evict(self, namespace: str, name: str, dry_run: bool = False) -> None: ...


def _selector_string(selector: Any) -> str:
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(op, f"!{key}")
        )
    return ",".join(parts)


def scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view of a workload."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas", 0)),
            "selector": _selector_string((obj.get("spec") or {}).get("selector")),
        },
    }


def get_scale(store: ObjectStore, route: ResourceRoute) -> Obj:
    """GET `/scale`."""
    return scale_of(store.get(route.resource.kind, route.namespace, route.name or ""))


def write_scale(store: ObjectStore, route: ResourceRoute, request: Request) -> Obj:
    """PUT or PATCH `/scale`: set spec.replicas of the workload (409 on a stale resourceVersion in a PUT)."""
    kind, name = route.resource.kind, route.name or ""
    body = request.json_body()
    with store.lock:
        current = store.get(kind, route.namespace, name)
        scale = scale_of(current)
        if request.method == "PUT":
            if not isinstance(body, dict):
                raise BadRequest("a Scale object is required")
            sent_rv = (body.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise Conflict(
                    f'Operation cannot be fulfilled on {route.resource.plural} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    details={"name": name, "kind": route.resource.plural},
                )
            scale["spec"] = body.get("spec") or {}
        else:
            scale = apply_patch(request.headers.get("content-type", ""), scale, body)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise BadRequest(f"Scale.spec.replicas: Invalid value: {replicas!r}: must be a non-negative integer")
        current.setdefault("spec", {})["replicas"] = replicas
        updated = store.update(kind, current, dry_run=request.dry_run, check_version=False)
        return scale_of(updated)


def evict(store: ObjectStore, evictor: Evictor | None, route: ResourceRoute, request: Request) -> Response:
    """POST `/eviction`: the cluster decides against PodDisruptionBudgets (429 when one blocks)."""
    body = request.json_body()
    options = (body.get("deleteOptions") or {}) if isinstance(body, dict) else {}
    dry_run = request.dry_run or "All" in (options.get("dryRun") or [])
    namespace, name = route.namespace or "default", route.name or ""
    store.get("Pod", namespace, name)
    if evictor is None:
        store.delete("Pod", namespace, name, dry_run=dry_run)
    else:
        evictor.evict(namespace, name, dry_run=dry_run)
    return Response.json(201, status_success(201, {"name": name, "kind": "pods"}))


def pod_log(store: ObjectStore, route: ResourceRoute) -> Response:
    """GET `/log`: a minimal text log saying what the pod's containers are doing."""
    pod = store.get("Pod", route.namespace, route.name or "")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    lines = [f"simcluster: pod {pod['metadata']['name']} on node {(pod.get('spec') or {}).get('nodeName', '')}"]
    for status in statuses:
        state = status.get("state") or {}
        lines.append(f"container {status.get('name')}: {', '.join(state) or 'unknown'}")
    return Response.text(200, "\n".join(lines) + "\n")
