"""Dispatch a request to discovery, the resource verbs, subresources or the simulation routes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from simcluster import discovery
from simcluster.apifaults import ApiFaults, RequestInfo, request_info
from simcluster.errors import BadRequest, NotFound, StoreError
from simcluster.http import events_v1, resources, subresources
from simcluster.http.messages import Request, Response
from simcluster.http.routing import ResourceRoute, resolve
from simcluster.http.simroutes import SimRoutes
from simcluster.http.tables import to_table
from simcluster.http.watch import open_watch
from simcluster.store import ObjectStore

Obj = dict[str, Any]


class ClusterBackend(Protocol):
    """What the server needs from a simulated cluster beyond its store."""

    store: ObjectStore

    def tick(self, seconds: float = 1.0) -> None: ...

    @property
    def manual_time(self) -> bool: ...

    def inject(self, fault: str, **params: Any) -> dict[str, Any]: ...

    def faults(self) -> list[dict[str, Any]]: ...

    def firing_alerts(self) -> list[dict[str, Any]]: ...

    def evict(self, namespace: str, name: str, dry_run: bool = False) -> None: ...


class MethodNotAllowed(StoreError):
    """405: the verb is not served on this path."""

    code, reason = 405, "MethodNotAllowed"


_HEALTH = frozenset({"/healthz", "/readyz", "/livez"})


class KubeApi:
    """The API server's logic, independent of the HTTP transport."""

    def __init__(self, store: ObjectStore, cluster: ClusterBackend | None = None) -> None:
        self.store = store
        self.cluster = cluster
        self.stopping = threading.Event()
        self.faults = ApiFaults()
        """API fault rules and the request log (the `/sim/v1/api-faults` and `/sim/v1/requests` routes)."""
        self._sim = SimRoutes(cluster, self.faults)
        self._json = resources.JsonCache()

    def handle(self, request: Request) -> Response:
        """Answer one request; API errors become `Status` objects with their codes."""
        try:
            return self._dispatch(request)
        except StoreError as exc:
            return Response.error(exc)
        except (ValueError, TypeError, KeyError) as exc:
            return Response.error(BadRequest(f"bad request: {exc}"))

    def describe(self, request: Request) -> RequestInfo | None:
        """The request as fault rules and the log see it; None for paths other than resources."""
        route = resolve(request.path.rstrip("/") or "/")
        return None if route is None else request_info(request.method, request.path, request.query, route)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path in _HEALTH:
            return Response.text(200, "ok")
        sim = self._sim.route(request, path)
        if sim is not None:
            return sim
        found = self._discovery(path)
        if found is not None:
            if request.method != "GET":
                raise MethodNotAllowed(f"the server does not allow this method on {path}")
            return Response.json(200, found)
        as_core = events_v1.core_request(request)
        if as_core is not None:
            if request.method == "PATCH":
                raise MethodNotAllowed("PATCH of events.k8s.io/v1 Events is not simulated: use core/v1 or PUT")
            return events_v1.v1_response(self._dispatch(as_core))
        route = resolve(path, self.store.types)
        if route is None:
            raise NotFound("the server could not find the requested resource")
        return self._resource(route, request)

    def _discovery(self, path: str) -> Obj | None:
        types = self.store.types.all()
        fixed: dict[str, Callable[[], Obj]] = {
            "/version": lambda: discovery.SERVER_VERSION,
            "/api": lambda: discovery.core_versions(types),
            "/apis": lambda: _with_events_group(discovery.api_groups(types)),
            f"/apis/{events_v1.GROUP}": lambda: events_v1.GROUP_DOC,
            events_v1.PREFIX: lambda: events_v1.RESOURCE_LIST,
            "/openapi/v3": lambda: discovery.openapi_v3_root(types),
        }
        if path in fixed:
            return fixed[path]()
        if path.startswith("/openapi/v3/"):
            return discovery.openapi_v3_document(path[len("/openapi/v3/") :], types)
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list("", parts[1], types)
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(parts[1], types)
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(parts[1], parts[2], types)
        return None

    def _resource(self, route: ResourceRoute, request: Request) -> Response:
        if route.name is None:
            return self._collection(route, request)
        if route.subresource in ("scale", "eviction", "log"):
            return self._special(route, request)
        handlers: dict[str, Callable[[], Response]] = {
            "GET": lambda: self._maybe_table(request, resources.get_object(self.store, route)),
            "PUT": lambda: Response.json(200, resources.replace_object(self.store, route, request)),
            "PATCH": lambda: Response.json(*resources.patch_object(self.store, route, request)),
            "DELETE": lambda: Response.json(200, resources.delete_object(self.store, route, request)),
        }
        if route.subresource == "status":
            handlers.pop("DELETE")
        return self._call(handlers, request)

    def _collection(self, route: ResourceRoute, request: Request) -> Response:
        def get() -> Response:
            if request.query.get("watch") in ("true", "1"):
                stream = open_watch(self.store, route, request, self.stopping)
                return Response(200, stream=stream)
            if request.wants_table():
                items, rv = resources.list_items(self.store, route, request)
                return Response.json(200, to_table(route.resource, items, rv, self.store.clock.now()))
            return resources.list_objects(self.store, route, request, self._json)

        handlers: dict[str, Callable[[], Response]] = {
            "GET": get,
            "POST": lambda: Response.json(201, resources.create_object(self.store, route, request)),
            "DELETE": lambda: Response.json(200, resources.delete_collection(self.store, route, request)),
        }
        return self._call(handlers, request)

    def _special(self, route: ResourceRoute, request: Request) -> Response:
        sub = route.subresource
        if sub == "log" and request.method == "GET":
            return subresources.pod_log(self.store, route)
        if sub == "eviction" and request.method == "POST":
            return subresources.evict(self.store, self.cluster, route, request)
        if sub == "scale" and request.method == "GET":
            return Response.json(200, subresources.get_scale(self.store, route))
        if sub == "scale" and request.method in ("PUT", "PATCH"):
            return Response.json(200, subresources.write_scale(self.store, route, request))
        raise MethodNotAllowed(f"the server does not allow {request.method} on {route.resource.plural}/{sub}")

    def _maybe_table(self, request: Request, obj: Obj) -> Response:
        if request.wants_table():
            rt, rv = self.store.types.get(obj["kind"]), int(obj["metadata"]["resourceVersion"])
            if rt is None:
                raise NotFound(f"kind {obj['kind']!r} is no longer served")
            return Response.json(200, to_table(rt, [obj], rv, self.store.clock.now()))
        return Response.json(200, obj)

    @staticmethod
    def _call(handlers: dict[str, Callable[[], Response]], request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"the server does not allow the method {request.method} here")
        return handler()


def _with_events_group(groups: Obj) -> Obj:
    """The group list with events.k8s.io, which serves the core Events converted (`events_v1`)."""
    return {**groups, "groups": [*groups["groups"], events_v1.GROUP_DOC]}
