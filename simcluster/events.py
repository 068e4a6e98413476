"""Events as the real controllers emit them (core/v1 `Event`), aggregated and bounded.

An event about the same object, reason and message is one object whose `count` and
`lastTimestamp` move on, as the real event recorder aggregates them. Events older than an hour
of simulated time are removed, as the API server's event TTL does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from simcluster.clock import rfc3339
from simcluster.errors import AlreadyExists, NotFound
from simcluster.store import RESOURCES_BY_KIND, ObjectStore

Obj = dict[str, Any]

EVENT_TTL = timedelta(hours=1)
PRUNE_EVERY = 500
"""Events recorded between two sweeps for expired ones."""

NORMAL, WARNING = "Normal", "Warning"


def involved(obj: Obj) -> Obj:
    """The `involvedObject` reference of an object."""
    meta = obj["metadata"]
    kind = obj.get("kind", "")
    ref: Obj = {"kind": kind, "name": meta["name"], "uid": meta.get("uid", "")}
    if kind in RESOURCES_BY_KIND:
        ref["apiVersion"] = RESOURCES_BY_KIND[kind].api_version
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def owner_reference(obj: Obj, kind: str) -> Obj | None:
    """The object's controller of `kind`, as a minimal object that `record` accepts."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            meta = {"name": ref["name"], "uid": ref.get("uid", ""), "namespace": obj["metadata"].get("namespace")}
            return {"kind": kind, "metadata": meta}
    return None


class EventRecorder:
    """Records events into the store; one per pass of the controllers' context."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._since_prune = 0

    def record(self, obj: Obj, now: datetime, *, type_: str, reason: str, message: str, component: str) -> None:
        """Create the event, or count it again when the same one exists."""
        ref = involved(obj)
        namespace = ref.get("namespace") or "default"
        digest = hashlib.sha256(f"{ref['uid']}|{reason}|{message}".encode()).hexdigest()[:16]
        name = f"{ref['name']}.{digest}"
        stamp = rfc3339(now)

        def again(event: Obj) -> None:
            event["count"] = int(event.get("count", 1)) + 1
            event["lastTimestamp"] = stamp

        try:
            self._store.mutate("Event", namespace, name, again)
            return
        except NotFound:
            pass
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "simcluster",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": None,
            "count": 1,
        }
        try:
            self._store.create("Event", event)
        except (AlreadyExists, NotFound):  # a race with ourselves, or the namespace is gone
            return
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self.prune(now)

    def prune(self, now: datetime) -> int:
        """Remove events last seen more than an hour ago; returns how many."""
        self._since_prune = 0
        cutoff = rfc3339(now - EVENT_TTL)
        expired = [e for e in self._store.iter_kind("Event") if str(e.get("lastTimestamp") or "") < cutoff]
        for event in expired:
            try:
                self._store.delete("Event", event["metadata"]["namespace"], event["metadata"]["name"])
            except NotFound:
                continue
        return len(expired)


def container_events(pod: Obj, old: Iterable[Obj], new: Iterable[Obj]) -> list[tuple[str, str, str]]:
    """What the kubelet says when container statuses change: (type, reason, message)."""
    before = {s["name"]: s for s in old}
    images = {c["name"]: c.get("image", "") for c in pod.get("spec", {}).get("containers") or []}
    out: list[tuple[str, str, str]] = []
    for status in new:
        name = status["name"]
        prev = before.get(name) or {}
        state, prev_state = status.get("state") or {}, prev.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        was_waiting = (prev_state.get("waiting") or {}).get("reason")
        restarted = int(status.get("restartCount", 0)) > int(prev.get("restartCount", 0))
        if "running" in state and ("running" not in prev_state or restarted):
            image = images.get(name, "")
            out += [
                (NORMAL, "Pulled", f'Container image "{image}" already present on machine'),
                (NORMAL, "Created", f"Created container {name}"),
                (NORMAL, "Started", f"Started container {name}"),
            ]
        if waiting in ("ErrImagePull", "ImagePullBackOff") and waiting != was_waiting:
            image = images.get(name, "")
            if waiting == "ErrImagePull":
                out += [
                    (NORMAL, "Pulling", f'Pulling image "{image}"'),
                    (WARNING, "Failed", f'Failed to pull image "{image}": not found'),
                ]
            else:
                out.append((NORMAL, "BackOff", f'Back-off pulling image "{image}"'))
        if waiting == "CrashLoopBackOff" and (was_waiting != "CrashLoopBackOff" or restarted):
            out.append(
                (WARNING, "BackOff", f"Back-off restarting failed container {name} in pod {pod['metadata']['name']}")
            )
    return out


def oom_killed(old: Iterable[Obj], new: Iterable[Obj]) -> list[str]:
    """Containers newly terminated by the OOM killer."""
    before = {s["name"]: s for s in old}
    names = []
    for status in new:
        last = ((status.get("lastState") or {}).get("terminated") or {}).get("reason")
        prev = before.get(status["name"]) or {}
        if last == "OOMKilled" and int(status.get("restartCount", 0)) > int(prev.get("restartCount", 0)):
            names.append(status["name"])
    return names
