"""events.k8s.io/v1 Events: the stored core/v1 Events, converted on the way in and out.

A real API server serves both groups from one storage: an Event the kubelet records through
core/v1 is listed by `kubectl events` or a client of events.k8s.io/v1 with its fields renamed
(`involvedObject` is `regarding`, `message` is `note`, `count` is `deprecatedCount`, ...). Here a
request under `/apis/events.k8s.io/v1` is rewritten to the core path (its body and field selector
converted to core names), answered by the core handlers, and the answer converted back: objects,
lists, and each line of a watch. PATCH is refused (405): convert-patch-convert is not simulated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from simcluster.http.messages import Request, Response

Obj = dict[str, Any]

GROUP, VERSION = "events.k8s.io", "v1"
API_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{API_VERSION}"

RENAMES = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)
"""(core/v1 field, events.k8s.io/v1 field); the others (reason, type, action, eventTime, series,
related, reportingInstance, metadata) have one name in both."""

GROUP_DOC: Obj = {
    "kind": "APIGroup",
    "apiVersion": "v1",
    "name": GROUP,
    "versions": [{"groupVersion": API_VERSION, "version": VERSION}],
    "preferredVersion": {"groupVersion": API_VERSION, "version": VERSION},
}
RESOURCE_LIST: Obj = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": API_VERSION,
    "resources": [
        {
            "name": "events",
            "singularName": "event",
            "namespaced": True,
            "kind": "Event",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "update", "watch"],
        }
    ],
}


def _renamed(obj: Obj, pairs: tuple[tuple[str, str], ...], api_version: str) -> Obj:
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    for old, new in pairs:
        if old in out:
            out[new] = out.pop(old)
    return {"apiVersion": api_version, "kind": "Event", **{k: v for k, v in out.items() if v is not None}}


def to_v1(core: Obj) -> Obj:
    """A stored core/v1 Event as events.k8s.io/v1 shows it."""
    event = _renamed(core, RENAMES, API_VERSION)
    source = event.get("deprecatedSource") or {}
    event.setdefault("reportingController", source.get("component", ""))
    return event


def to_core(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event as core/v1 stores it."""
    core = _renamed(event, tuple((new, old) for old, new in RENAMES), "v1")
    if core.get("reportingComponent") and not core.get("source"):
        core["source"] = {"component": core["reportingComponent"]}
    return core


def core_field_selector(selector: str) -> str:
    """A field selector over events.k8s.io/v1 names, in core/v1 names."""
    return ",".join(_core_term(term.strip()) for term in selector.split(","))


def _core_term(term: str) -> str:
    for old, new in RENAMES:
        if term.startswith((f"{new}.", f"{new}=", f"{new}!")):
            return old + term[len(new) :]
    return term


def core_request(request: Request) -> Request | None:
    """The same request against core/v1 Events, or None when it is not under events.k8s.io/v1."""
    path = request.path.rstrip("/")
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    query = dict(request.query)
    if "fieldSelector" in query:
        query["fieldSelector"] = core_field_selector(query["fieldSelector"])
    body = request.body
    if request.method in ("POST", "PUT") and body.strip():
        sent = request.json_body()
        body = json.dumps(to_core(sent) if isinstance(sent, dict) else sent).encode()
        headers = {**request.headers, "content-type": "application/json"}
    else:
        headers = dict(request.headers)
    return Request(request.method, "/api/v1" + path[len(PREFIX) :], query, headers, body, request.raw_query)


def _object(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    if obj.get("kind") == "Event":
        return to_v1(obj)
    if obj.get("kind") == "EventList":
        return {**obj, "apiVersion": API_VERSION, "items": [to_v1(i) for i in obj.get("items") or []]}
    return obj


def _lines(stream: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in stream:
        out = []
        for line in chunk.splitlines():
            event = json.loads(line)
            out.append(json.dumps({**event, "object": _object(event.get("object"))}).encode() + b"\n")
        yield b"".join(out)


def v1_response(response: Response) -> Response:
    """The core handlers' answer, converted to events.k8s.io/v1."""
    if response.stream is not None:
        return Response(response.status, stream=_lines(response.stream), headers=response.headers)
    if not response.content_type.startswith("application/json") or not response.body:
        return response
    return Response.json(response.status, _object(json.loads(response.body)))
