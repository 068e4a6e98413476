"""Watch streams: newline-delimited JSON events, in resourceVersion order.

With no resourceVersion (or "0") the stream starts with an ADDED event per current object;
`sendInitialEvents=true` does the same and ends the initial batch with the BOOKMARK the
watch-list protocol expects. A resourceVersion older than the store's change log gives 410.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from simcluster.errors import BadRequest
from simcluster.http.messages import Request
from simcluster.http.resources import matches, selectors
from simcluster.http.routing import ResourceRoute
from simcluster.store import ObjectStore

Obj = dict[str, Any]

DEFAULT_TIMEOUT_SECONDS = 1800.0
_POLL_SECONDS = 0.5


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _timeout(request: Request) -> float:
    raw = request.query.get("timeoutSeconds")
    if raw is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise BadRequest(f"invalid timeoutSeconds {raw!r}") from None


def _start_version(request: Request) -> int | None:
    raw = request.query.get("resourceVersion", "")
    if raw in ("", "0") or request.query.get("sendInitialEvents") == "true":
        return None
    if not raw.isdigit():
        raise BadRequest(f"invalid resourceVersion {raw!r}")
    return int(raw)


def open_watch(
    store: ObjectStore, route: ResourceRoute, request: Request, stopping: threading.Event
) -> Iterator[bytes]:
    """Validate a watch request and return its stream (errors raise before any byte is sent)."""
    labels, fields = selectors(request)
    timeout = _timeout(request)
    start = _start_version(request)
    kind, namespace = route.resource.kind, route.namespace
    with store.lock:
        if start is None:
            initial, last = store.list(kind, namespace, label_selector=labels, field_selector=fields)
            first: list[bytes] = [_line("ADDED", o) for o in initial]
            if request.query.get("sendInitialEvents") == "true":
                bookmark = {
                    "kind": route.resource.kind,
                    "apiVersion": route.resource.api_version,
                    "metadata": {
                        "resourceVersion": str(last),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                }
                first.append(_line("BOOKMARK", bookmark))
        else:
            store.events_since(start, kind, namespace)  # 410 Gone now, not mid-stream
            first, last = [], start
    return _stream(store, route, request, first=first, last=last, timeout=timeout, stopping=stopping)


def _stream(
    store: ObjectStore,
    route: ResourceRoute,
    request: Request,
    *,
    first: list[bytes],
    last: int,
    timeout: float,
    stopping: threading.Event,
) -> Iterator[bytes]:
    labels, fields = selectors(request)
    if first:
        yield b"".join(first)
    deadline = time.monotonic() + timeout
    while not stopping.is_set():
        with store.lock:
            current = store.resource_version
            events = store.events_since(last, route.resource.kind, route.namespace)
        chunk = [_line(e.type, e.object) for e in events if matches(e.object, labels, fields)]
        last = max([current, *(e.resource_version for e in events)])
        if chunk:
            yield b"".join(chunk)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        store.wait_for_change(last, min(remaining, _POLL_SECONDS))
