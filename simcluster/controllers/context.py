"""What every controller pass shares: the store, the time of the pass, cheap indexes and the
small operations all controllers use (owner references, status writes, pods from templates)."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simcluster.clock import rfc3339
from simcluster.errors import AlreadyExists, NotFound
from simcluster.events import EventRecorder
from simcluster.store import RESOURCES_BY_KIND, ObjectStore

Obj = dict[str, Any]

HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SIM_PREFIX = "sim.scutum.dev/"


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it, or None."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stable_hash(value: Any, length: int = 10) -> str:
    """A short, stable, label-safe hash of any JSON value (the pod-template-hash shape)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(length):
        number, rem = divmod(number, len(HASH_ALPHABET))
        out.append(HASH_ALPHABET[rem])
    return "".join(out)


def template_hash(template: Obj, *, drop_labels: tuple[str, ...] = ("pod-template-hash",)) -> str:
    """The hash of a pod template, ignoring the labels a controller adds to it."""
    clean = copy.deepcopy(template)
    labels = clean.get("metadata", {}).get("labels") or {}
    for key in drop_labels:
        labels.pop(key, None)
    return stable_hash(clean)


def owner_ref(owner: Obj) -> Obj:
    """A controller ownerReference pointing at `owner`."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of the given type, if present."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def pod_ready(pod: Obj) -> bool:
    """True when the pod's Ready condition is True and it is not being deleted."""
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True") and not pod["metadata"].get("deletionTimestamp")


def pod_active(pod: Obj) -> bool:
    """A pod that counts towards its controller's replicas: not terminating, not finished."""
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """Resolve an IntOrString such as `25%` against `total`."""
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total
        return -(-scaled // 100) if round_up else scaled // 100
    return int(value)


def with_condition(conditions: list[Obj], new: Obj, now: str, *, touch: bool = False) -> list[Obj]:
    """Conditions with `new` set, keeping the transition time unless the status changed."""
    out = [dict(c) for c in conditions if c.get("type") != new["type"]]
    old = next((c for c in conditions if c.get("type") == new["type"]), None)
    merged = dict(new)
    same = old is not None and old.get("status") == new["status"]
    merged["lastTransitionTime"] = old.get("lastTransitionTime", now) if same and old else now
    if "lastUpdateTime" in new or (old and "lastUpdateTime" in old):
        keep = same and old is not None and old.get("reason") == new.get("reason") and not touch
        merged["lastUpdateTime"] = old.get("lastUpdateTime", now) if keep and old else now
    out.append(merged)
    return sorted(out, key=lambda c: str(c["type"]))


@dataclass
class Context:
    """One controller pass: the store and the pass's time.

    `memo` keeps what controllers learnt between passes (e.g. pods whose status cannot change
    until they or their ConfigMaps do), so an idle pass stays cheap.
    """

    store: ObjectStore
    now: datetime
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        """The pass's time as an API timestamp."""
        return rfc3339(self.now)

    def seconds_since(self, text: str | None) -> float:
        """Seconds between a timestamp and now (0 when absent)."""
        moment = parse_time(text)
        return (self.now - moment).total_seconds() if moment else 0.0

    def later(self, text: str | None, seconds: float) -> bool:
        """True when `seconds` have passed since the timestamp."""
        moment = parse_time(text)
        return moment is not None and self.now >= moment + timedelta(seconds=seconds)

    def objects(self, kind: str) -> list[Obj]:
        """Live objects of a kind in namespace/name order; read-only."""
        return sorted(
            self.store.iter_kind(kind), key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def owned(self, kind: str, owner: Obj) -> list[Obj]:
        """Live objects of `kind` whose controller is `owner`, by name (the store's owner index)."""
        return self.store.iter_owned(kind, owner["metadata"]["uid"])

    def set_status(self, kind: str, obj: Obj, status: Obj) -> None:
        """Write `.status` if it differs from what is stored."""
        if obj.get("status") == status:
            return
        meta = obj["metadata"]
        try:
            self.store.write_status(kind, meta.get("namespace"), meta["name"], status)
        except NotFound:
            return

    def create(self, kind: str, obj: Obj) -> Obj | None:
        """Create an object, retrying a generated-name collision; None if its namespace is gone."""
        for _ in range(5):
            try:
                return self.store.create_live(kind, obj)
            except AlreadyExists:
                if not obj["metadata"].get("generateName"):
                    return None
            except NotFound:
                return None
        return None

    def delete(self, kind: str, obj: Obj, *, grace_period_seconds: int | None = None) -> None:
        """Delete an object, ignoring one that is already gone."""
        meta = obj["metadata"]
        try:
            self.store.delete(kind, meta.get("namespace"), meta["name"], grace_period_seconds=grace_period_seconds)
        except NotFound:
            return

    def event(self, obj: Obj, *, type_: str, reason: str, message: str, component: str) -> None:
        """Record an event about `obj` (aggregated with the same one, expired after an hour)."""
        recorder = self.memo.get("events")
        if not isinstance(recorder, EventRecorder):
            recorder = self.memo["events"] = EventRecorder(self.store)
        recorder.record(obj, self.now, type_=type_, reason=reason, message=message, component=component)

    def pod_from_template(self, owner: Obj, template: Obj, *, name: str | None = None, extra: Obj | None = None) -> Obj:
        """A new pod for `owner` built from its pod template (not yet stored)."""
        tmeta = template.get("metadata") or {}
        meta: Obj = {
            "namespace": owner["metadata"]["namespace"],
            "labels": dict(tmeta.get("labels") or {}) | dict((extra or {}).get("labels") or {}),
            "ownerReferences": [owner_ref(owner)],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = f"{owner['metadata']['name']}-"
        spec = copy.deepcopy(template.get("spec") or {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("schedulerName", "default-scheduler")
        spec.update((extra or {}).get("spec") or {})
        return {"metadata": meta, "spec": spec, "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def api_version(kind: str) -> str:
    """The apiVersion string of a kind."""
    return RESOURCES_BY_KIND[kind].api_version
