"""The REST verbs on resources: get, list, create, replace, patch, delete, deletecollection.

Read-modify-write verbs run under the store's lock so a patch is atomic. LIST serialises the
stored objects straight to JSON under the lock instead of deep-copying each one first.
"""

from __future__ import annotations

import json
from typing import Any

from simcluster.errors import BadRequest, Conflict, Invalid, NotFound
from simcluster.http.messages import Request, Response
from simcluster.http.routing import ResourceRoute
from simcluster.http.validation import validate
from simcluster.patch import apply_patch
from simcluster.selectors import FieldSelector, LabelSelector
from simcluster.store import ObjectStore, ResourceType

Obj = dict[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"


def selectors(request: Request) -> tuple[LabelSelector | None, FieldSelector | None]:
    """The label and field selectors of a list or watch request (400 if unparsable)."""
    labels = request.query.get("labelSelector")
    fields = request.query.get("fieldSelector")
    return (
        LabelSelector.parse(labels) if labels else None,
        FieldSelector.parse(fields) if fields else None,
    )


def matches(obj: Obj, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
    """Whether an object passes both selectors."""
    if labels is not None and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
        return False
    return fields is None or fields.matches(obj)


def list_kind(rt: ResourceType) -> str:
    """The kind of a list of `rt` objects (PodList, DeploymentList, ...)."""
    return f"{rt.kind}List"


class JsonCache:
    """Serialised objects keyed by kind, namespace and name, valid while their resourceVersion is.

    The store bumps resourceVersion on every change, so a cached text is reused only for an
    unchanged object: LIST of a thousand pods then costs a join, not a thousand `json.dumps`.
    """

    def __init__(self) -> None:
        self._texts: dict[tuple[str, str, str], tuple[str, str]] = {}

    def text(self, kind: str, obj: Obj) -> str:
        """The JSON text of a stored object (call under the store's lock)."""
        meta = obj["metadata"]
        key, rv = (kind, meta.get("namespace", ""), meta["name"]), meta.get("resourceVersion", "")
        hit = self._texts.get(key)
        if hit is not None and hit[0] == rv:
            return hit[1]
        text = json.dumps(obj, separators=(",", ":"))
        self._texts[key] = (rv, text)
        return text

    def prune(self, live: int) -> None:
        """Forget everything when the cache holds far more entries than live objects (deletions)."""
        if len(self._texts) > 2 * live + 1000:
            self._texts.clear()


def list_objects(
    store: ObjectStore, route: ResourceRoute, request: Request, cache: JsonCache | None = None
) -> Response:
    """LIST: matching objects sorted by namespace and name, serialised under the lock."""
    labels, fields = selectors(request)
    rt = route.resource
    cache = cache or JsonCache()
    with store.lock:
        live = store.iter_kind(rt.kind)
        chosen = [
            o
            for o in live
            if (route.namespace is None or o["metadata"].get("namespace") == route.namespace)
            and matches(o, labels, fields)
        ]
        chosen.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        items = ",".join(cache.text(rt.kind, o) for o in chosen)
        rv = store.resource_version
        cache.prune(sum(1 for _ in live))
    head = json.dumps({"kind": list_kind(rt), "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(rv)}})
    return Response(200, f'{head[:-1]},"items":[{items}]}}'.encode())


def list_items(store: ObjectStore, route: ResourceRoute, request: Request) -> tuple[list[Obj], int]:
    """LIST as Python objects (for tables and deletecollection)."""
    labels, fields = selectors(request)
    return store.list(route.resource.kind, route.namespace, label_selector=labels, field_selector=fields)


def _named(route: ResourceRoute) -> str:
    if route.name is None:
        raise BadRequest("a resource name is required")
    return route.name


def get_object(store: ObjectStore, route: ResourceRoute) -> Obj:
    """GET one object (404 if missing)."""
    return store.get(route.resource.kind, route.namespace, _named(route))


def _body_object(route: ResourceRoute, request: Request) -> Obj:
    body = request.json_body()
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    kind = body.get("kind")
    if kind is not None and kind != route.resource.kind:
        raise BadRequest(f"the kind of the body ({kind}) does not match the resource ({route.resource.kind})")
    return body


def create_object(store: ObjectStore, route: ResourceRoute, request: Request) -> Obj:
    """POST: create from the body (generateName, dryRun honoured); 409 if it exists."""
    obj = _body_object(route, request)
    validate(route.resource.kind, obj)
    return store.create(route.resource.kind, obj, namespace=route.namespace, dry_run=request.dry_run)


def _same_identity(route: ResourceRoute, obj: Obj) -> Obj:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise Invalid("metadata must be an object")
    if meta.get("name") and meta["name"] != route.name:
        raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({route.name})")
    if route.namespace and meta.get("namespace") and meta["namespace"] != route.namespace:
        raise BadRequest("the namespace of the object does not match the namespace on the request")
    meta["name"] = route.name
    if route.resource.namespaced:
        meta["namespace"] = route.namespace
    return obj


def replace_object(store: ObjectStore, route: ResourceRoute, request: Request) -> Obj:
    """PUT the whole object (or its status); 409 on a stale resourceVersion."""
    obj = _same_identity(route, _body_object(route, request))
    sub = route.subresource
    with store.lock:
        if sub != "status":
            validate(route.resource.kind, obj)
        return store.update(route.resource.kind, obj, dry_run=request.dry_run, subresource=sub)


def patch_object(store: ObjectStore, route: ResourceRoute, request: Request) -> tuple[int, Obj]:
    """PATCH by content type (merge, JSON, strategic, server-side apply); returns (code, object)."""
    content_type = request.headers.get("content-type", "")
    body = request.json_body()
    kind, name = route.resource.kind, _named(route)
    with store.lock:
        current = store.try_get(kind, route.namespace, name)
        if current is None:
            if not content_type.startswith(APPLY_PATCH) or route.subresource:
                raise store_not_found(store, route)
            obj = _same_identity(route, body if isinstance(body, dict) else {})
            validate(kind, obj)
            return 201, store.create(kind, obj, namespace=route.namespace, dry_run=request.dry_run)
        patched = apply_patch(content_type, current, body)
        patched = _same_identity(route, patched)
        if route.subresource != "status":
            validate(kind, patched)
        sent_rv = _patch_resource_version(body)
        if sent_rv is None:
            patched["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return 200, store.update(kind, patched, dry_run=request.dry_run, subresource=route.subresource)


def _patch_resource_version(body: Any) -> str | None:
    if isinstance(body, dict):
        rv = (body.get("metadata") or {}).get("resourceVersion")
        return str(rv) if rv else None
    return None


def store_not_found(store: ObjectStore, route: ResourceRoute) -> NotFound:
    """The 404 a real server returns for a missing object."""
    try:
        store.get(route.resource.kind, route.namespace, _named(route))
    except NotFound as exc:
        return exc
    return NotFound(f"{route.resource.plural} {route.name!r} not found")


def _delete_options(request: Request) -> Obj:
    options: Obj = {}
    if request.body.strip():
        body = request.json_body()
        if isinstance(body, dict):
            options = body
    for key in ("propagationPolicy", "gracePeriodSeconds"):
        if key in request.query:
            options[key] = request.query[key]
    if request.dry_run:
        options["dryRun"] = ["All"]
    return options


def delete_object(store: ObjectStore, route: ResourceRoute, request: Request) -> Obj:
    """DELETE one object with propagationPolicy, gracePeriodSeconds, preconditions and dryRun."""
    options = _delete_options(request)
    kind, name = route.resource.kind, _named(route)
    grace = options.get("gracePeriodSeconds")
    with store.lock:
        preconditions = options.get("preconditions") or {}
        if preconditions:
            current = store.get(kind, route.namespace, name)
            for field in ("uid", "resourceVersion"):
                wanted = preconditions.get(field)
                if wanted and wanted != current["metadata"].get(field):
                    raise Conflict(
                        f"Precondition failed: {field} in precondition: {wanted}, "
                        f"{field} in object meta: {current['metadata'].get(field)}",
                        details={"name": name, "kind": route.resource.plural},
                    )
        return store.delete(
            kind,
            route.namespace,
            name,
            dry_run="All" in (options.get("dryRun") or []),
            propagation=str(options.get("propagationPolicy") or "Background"),
            grace_period_seconds=int(grace) if grace is not None else None,
        )


def delete_collection(store: ObjectStore, route: ResourceRoute, request: Request) -> Obj:
    """DELETE on a list path: delete every matching object; returns the list of deleted objects."""
    items, _ = list_items(store, route, request)
    deleted = []
    for item in items:
        one = ResourceRoute(route.resource, item["metadata"].get("namespace"), item["metadata"]["name"], None)
        try:
            deleted.append(delete_object(store, one, Request("DELETE", "", request.query, request.headers)))
        except NotFound:
            continue
    rt = route.resource
    return {"kind": list_kind(rt), "apiVersion": rt.api_version, "metadata": {}, "items": deleted}
