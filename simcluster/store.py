"""The object store behind the simulated API server: what etcd plus the apiserver's
registry do for a real cluster (uids, resourceVersions, generations, optimistic
concurrency, selectors, cascading deletion, a watch log).

Objects are plain JSON-like dicts exactly as the REST API shows them. Every read returns
a deep copy, so callers can never change stored state behind the store's back. Inside, a
stored object is never changed in place: a write stores a new dict (which may share unchanged
parts with the old one), so the watch log can hold stored objects without copying them.
"""

from __future__ import annotations

import builtins
import copy
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simcluster.clock import Clock, rfc3339
from simcluster.errors import AlreadyExists, BadRequest, Conflict, Gone, Invalid, NotFound
from simcluster.kinds import RESOURCES, RESOURCES_BY_KIND, ResourceType
from simcluster.owners import DependentIndex, controller_uid
from simcluster.resource_registry import ResourceRegistry, crd_type
from simcluster.selectors import FieldSelector, LabelSelector

Obj = dict[str, Any]
__all__ = ["RESOURCES", "RESOURCES_BY_KIND", "ObjectStore", "ResourceType", "WatchEvent"]


@dataclass(frozen=True)
class WatchEvent:
    """One change, as a watch stream reports it."""

    type: str  # ADDED, MODIFIED, DELETED
    kind: str
    object: Obj
    resource_version: int


@dataclass
class _Bucket:
    objects: dict[tuple[str, str], Obj] = field(default_factory=dict)


def _meta(obj: Obj) -> Obj:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise Invalid("metadata must be an object")
    return meta


class ObjectStore:
    """Thread-safe storage with the semantics of a real API server's registry."""

    def __init__(self, clock: Clock, *, watch_log_size: int = 100_000, uid_seed: int | None = None) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._buckets: dict[str, _Bucket] = {r.kind: _Bucket() for r in RESOURCES}
        self._rv = 0
        self._log: deque[WatchEvent] = deque(maxlen=watch_log_size)
        self._uid_counter = 0
        self._uid_seed = uid_seed
        self._admission: list[Callable[[str, Obj, Obj | None], None]] = []
        self._dependents = DependentIndex()
        """owner uid -> (kind, key) of every object with an ownerReference to it: cascading
        deletion and the controllers' "what do I own" stay proportional to the owner's dependents."""
        self.types = ResourceRegistry(RESOURCES, self._stored_crds, make=ResourceType)
        """Built-in types and the ones stored CRDs define (custom resources get buckets on first use)."""

    # --- bookkeeping -------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held by controllers that need several operations to be atomic."""
        return self._lock

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def add_admission(self, check: Callable[[str, Obj, Obj | None], None]) -> None:
        """Register a validating admission check `(kind, new, old)`; raise `Invalid` to refuse."""
        self._admission.append(check)

    def _new_uid(self) -> str:
        if self._uid_seed is None:
            return str(uuid.uuid4())
        self._uid_counter += 1
        return str(uuid.UUID(int=(self._uid_seed << 64) + self._uid_counter))

    def _stored_crds(self) -> tuple[int, builtins.list[Obj]]:
        with self._lock:
            return self._rv, list(self._buckets["CustomResourceDefinition"].objects.values())

    def _type(self, kind: str) -> ResourceType:
        found = self.types.get(kind)
        if found is None:
            raise NotFound(f"the server could not find the requested resource kind {kind!r}")
        return found

    def _bucket(self, kind: str) -> _Bucket:
        if kind not in self._buckets:
            self._type(kind)
            self._buckets[kind] = _Bucket()
        return self._buckets[kind]

    def _key(self, kind: str, namespace: str | None, name: str) -> tuple[str, str]:
        return ("" if not self._type(kind).namespaced else (namespace or ""), name)

    def _put(self, kind: str, key: tuple[str, str], obj: Obj) -> None:
        """Store `obj` under `key`, keeping the owner index in step."""
        bucket = self._bucket(kind)
        self._dependents.replaced((kind, key), bucket.objects.get(key), obj)
        bucket.objects[key] = obj

    def _drop(self, kind: str, key: tuple[str, str]) -> None:
        """Forget the object under `key` and its owner index entries."""
        self._dependents.replaced((kind, key), self._bucket(kind).objects.pop(key, None), None)

    def _record(self, type_: str, kind: str, obj: Obj) -> None:
        """Log a change; `obj` must never be changed in place afterwards (see the module doc)."""
        self._log.append(WatchEvent(type_, kind, obj, int(obj["metadata"]["resourceVersion"])))
        self._changed.notify_all()

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    # --- reads -------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Obj:
        with self._lock:
            return copy.deepcopy(self._stored(kind, namespace, name))

    def _stored(self, kind: str, namespace: str | None, name: str) -> Obj:
        """The stored object itself (never change it), or NotFound."""
        obj = self._bucket(kind).objects.get(self._key(kind, namespace, name))
        if obj is None:
            rt = self._type(kind)
            raise NotFound(
                f'{rt.plural}.{rt.group or "core"} "{name}" not found'.replace(".core", ""),
                details={"name": name, "group": rt.group, "kind": rt.plural},
            )
        return obj

    def exists(self, kind: str, namespace: str | None, name: str) -> bool:
        """True when the object is stored (no copy made)."""
        with self._lock:
            return self._key(kind, namespace, name) in self._bucket(kind).objects

    def try_get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        try:
            return self.get(kind, namespace, name)
        except NotFound:
            return None

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: LabelSelector | str | None = None,
        field_selector: FieldSelector | str | None = None,
    ) -> tuple[builtins.list[Obj], int]:
        """Matching objects sorted by namespace and name, and the store's resourceVersion."""
        labels = LabelSelector.parse(label_selector) if isinstance(label_selector, str) else label_selector
        fields = FieldSelector.parse(field_selector) if isinstance(field_selector, str) else field_selector
        with self._lock:
            out = []
            for (ns, _), obj in sorted(self._bucket(kind).objects.items()):
                if namespace and ns != namespace:
                    continue
                if labels and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
                    continue
                if fields and not fields.matches(obj):
                    continue
                out.append(copy.deepcopy(obj))
            return out, self._rv

    def iter_kind(self, kind: str) -> Iterable[Obj]:
        """Live (not copied) objects of a kind, for controllers holding `lock`. Do not mutate."""
        return list(self._bucket(kind).objects.values())

    def iter_owned(self, kind: str, owner_uid: str) -> builtins.list[Obj]:
        """Live objects of `kind` whose controller ownerReference has `owner_uid`, by namespace and
        name; for controllers holding `lock`. Do not mutate. Costs the owner's dependents, not the kind."""
        bucket = self._bucket(kind)
        out = []
        for dep_kind, key in self._dependents.dependents(owner_uid):
            obj = bucket.objects.get(key) if dep_kind == kind else None
            if obj is not None and controller_uid(obj) == owner_uid:
                out.append(obj)
        return out

    # --- writes ------------------------------------------------------------------------

    def create(self, kind: str, obj: Obj, *, namespace: str | None = None, dry_run: bool = False) -> Obj:
        with self._lock:
            return copy.deepcopy(self.create_live(kind, obj, namespace=namespace, dry_run=dry_run))

    def create_live(self, kind: str, obj: Obj, *, namespace: str | None = None, dry_run: bool = False) -> Obj:
        """`create`, returning the stored object itself: for controllers holding `lock`. Do not mutate."""
        rt = self._type(kind)
        obj = copy.deepcopy(obj)
        meta = _meta(obj)
        obj["kind"], obj["apiVersion"] = kind, rt.api_version
        with self._lock:
            if rt.namespaced:
                ns = meta.get("namespace") or namespace or "default"
                if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                    raise BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request"
                    )
                meta["namespace"] = ns
                if kind != "Namespace" and ns not in {k[1] for k in self._buckets["Namespace"].objects}:
                    raise NotFound(f'namespaces "{ns}" not found', details={"name": ns, "kind": "namespaces"})
            else:
                meta.pop("namespace", None)
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise Invalid(f"{kind}: metadata.name: Required value: name or generateName is required")
                meta["name"] = f"{prefix}{self._name_suffix()}"
            for check in self._admission:
                check(kind, obj, None)
            key = self._key(kind, meta.get("namespace"), meta["name"])
            bucket = self._bucket(kind)
            if key in bucket.objects:
                raise AlreadyExists(
                    f'{rt.plural} "{meta["name"]}" already exists',
                    details={"name": meta["name"], "kind": rt.plural},
                )
            meta["uid"] = self._new_uid()
            meta["creationTimestamp"] = rfc3339(self.clock.now())
            meta.pop("resourceVersion", None)
            meta.pop("deletionTimestamp", None)
            if "spec" in obj or kind not in ("ConfigMap", "Secret", "Event", "Lease", "Endpoints"):
                meta["generation"] = 1
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            self._bump(obj)
            self._put(kind, key, obj)
            self._record("ADDED", kind, obj)
            return obj

    def _name_suffix(self) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        self._uid_counter += 1
        n = self._uid_counter * 7919 + self._rv
        return "".join(alphabet[(n // len(alphabet) ** i) % len(alphabet)] for i in range(5))

    def update(
        self,
        kind: str,
        obj: Obj,
        *,
        dry_run: bool = False,
        subresource: str | None = None,
        check_version: bool = True,
        manager: str = "simcluster",
    ) -> Obj:
        """Replace an object (PUT). A stale resourceVersion is a 409, as on a real server.

        `subresource="status"` changes only `.status`; otherwise `.status` is kept and a change
        of anything but metadata and status bumps `metadata.generation`.
        """
        with self._lock:
            new = self._write(
                kind,
                copy.deepcopy(obj),
                dry_run=dry_run,
                subresource=subresource,
                check_version=check_version,
                manager=manager,
            )
            return copy.deepcopy(new)

    def _write(
        self, kind: str, obj: Obj, *, dry_run: bool, subresource: str | None, check_version: bool, manager: str
    ) -> Obj:
        """`update` of an object the store now owns; returns the stored (or dry-run) object, not a copy."""
        meta = _meta(obj)
        current = self._stored(kind, meta.get("namespace"), meta.get("name", ""))
        sent_rv = meta.get("resourceVersion")
        if check_version and sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f'Operation cannot be fulfilled on {self._type(kind).plural} "{meta["name"]}": '
                "the object has been modified; please apply your changes to the latest version and try again",
                details={"name": meta["name"], "kind": self._type(kind).plural},
            )
        if subresource == "status":
            new = dict(current)
            new["metadata"] = dict(current["metadata"])
            new["status"] = obj.get("status", {})
        else:
            new = self._replaced(kind, obj, current, manager)
        if dry_run:
            return copy.deepcopy(new)
        if new == current:
            return current
        self._bump(new)
        self._put(kind, self._key(kind, meta.get("namespace"), new["metadata"]["name"]), new)
        self._record("MODIFIED", kind, new)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(kind, new)
        return new

    def write_status(self, kind: str, namespace: str | None, name: str, status: Obj) -> None:
        """Replace `.status` (a controller's status write): no version check, nothing returned."""
        body = {"metadata": {"name": name, "namespace": namespace}, "status": copy.deepcopy(status)}
        with self._lock:
            self._write(kind, body, dry_run=False, subresource="status", check_version=False, manager="simcluster")

    def _replaced(self, kind: str, obj: Obj, current: Obj, manager: str) -> Obj:
        """`obj` as the new version of `current`: server-owned metadata and status kept,
        generation and managedFields moved on when the content changed, admission checked."""
        new = obj
        new["kind"], new["apiVersion"] = kind, current["apiVersion"]
        for keep in ("uid", "creationTimestamp", "namespace", "deletionTimestamp"):
            if keep in current["metadata"]:
                new["metadata"][keep] = current["metadata"][keep]
            else:
                new["metadata"].pop(keep, None)
        if "status" in current:
            new["status"] = current["status"]
        content = {k: v for k, v in new.items() if k not in ("metadata", "status", "kind", "apiVersion")}
        before = {k: v for k, v in current.items() if k not in ("metadata", "status", "kind", "apiVersion")}
        if "generation" in current["metadata"]:
            gen = int(current["metadata"]["generation"])
            new["metadata"]["generation"] = gen + 1 if content != before else gen
        if content != before:
            self._touch_managed_fields(new, manager)
        for check in self._admission:
            check(kind, new, current)
        return new

    def _touch_managed_fields(self, obj: Obj, manager: str) -> None:
        """Record when `manager` last changed the object, as a real server's managedFields do."""
        entries = [e for e in obj["metadata"].get("managedFields") or [] if e.get("manager") != manager]
        entries.append(
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": obj.get("apiVersion", "v1"),
                "time": rfc3339(self.clock.now()),
                "fieldsType": "FieldsV1",
                "fieldsV1": {},
            }
        )
        obj["metadata"]["managedFields"] = entries

    def mutate(self, kind: str, namespace: str | None, name: str, change: Callable[[Obj], None], **kw: Any) -> Obj:
        """Read, change in place and write back under the lock (no version check): for controllers."""
        with self._lock:
            obj = self.get(kind, namespace, name)
            change(obj)
            return copy.deepcopy(
                self._write(
                    kind,
                    obj,
                    dry_run=kw.get("dry_run", False),
                    subresource=kw.get("subresource"),
                    check_version=False,
                    manager=kw.get("manager", "simcluster"),
                )
            )

    def delete(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str = "Background",
        grace_period_seconds: int | None = None,
    ) -> Obj:
        """Delete an object; its dependents (by ownerReferences) go with it unless `Orphan`."""
        with self._lock:
            obj = self.get(kind, namespace, name)
            if dry_run:
                return obj
            meta = obj["metadata"]
            if meta.get("finalizers") or (kind == "Pod" and grace_period_seconds != 0 and self._graceful(obj)):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = rfc3339(self.clock.now())
                    meta["deletionGracePeriodSeconds"] = (
                        grace_period_seconds if grace_period_seconds is not None else 30
                    )
                    self._bump(obj)
                    self._put(kind, self._key(kind, namespace, name), obj)
                    self._record("MODIFIED", kind, obj)
                return copy.deepcopy(obj)
            return copy.deepcopy(self._remove(kind, obj, orphan=propagation == "Orphan"))

    def _graceful(self, pod: Obj) -> bool:
        """Pods with the stuck-terminating marker keep a deletionTimestamp until a controller clears it."""
        return bool(pod.get("metadata", {}).get("annotations", {}).get("sim.scutum.dev/stuck-terminating"))

    def _remove(self, kind: str, obj: Obj, *, orphan: bool = False) -> Obj:
        """Drop `obj` (and, unless orphaned, its dependents); returns the DELETED event's version."""
        obj = dict(obj)  # a new dict: the stored one is never changed
        meta = obj["metadata"] = dict(obj["metadata"])
        self._drop(kind, self._key(kind, meta.get("namespace"), meta["name"]))
        self._bump(obj)
        self._record("DELETED", kind, obj)
        if orphan:
            return obj
        if kind == "CustomResourceDefinition":  # its custom resources go with it, as on a real server
            self._drop_custom(obj)
        if kind == "Namespace":
            for other in self.types.all():
                if other.namespaced:
                    for dependent in [
                        o for (ns, _), o in self._bucket(other.kind).objects.items() if ns == meta["name"]
                    ]:
                        self._remove(other.kind, dependent)
            return obj
        for dep_kind, key in self._dependents.dependents(meta["uid"]):
            child = self._bucket(dep_kind).objects.get(key)
            if child is not None:
                self._remove(dep_kind, child)
        return obj

    def _drop_custom(self, crd: Obj) -> None:
        custom = crd_type(crd, ResourceType)
        if custom is None or self.types.is_builtin(custom.kind):
            return
        for dependent in list(self._buckets.pop(custom.kind, _Bucket()).objects.values()):
            self._bump(dependent)
            self._record("DELETED", custom.kind, dependent)

    # --- watch -------------------------------------------------------------------------

    def events_since(self, resource_version: int, kind: str, namespace: str | None = None) -> builtins.list[WatchEvent]:
        """Events of a kind newer than `resource_version`; 410 Gone if the log no longer reaches back."""
        with self._lock:
            if (
                self._log
                and resource_version < self._log[0].resource_version - 1
                and len(self._log) == self._log.maxlen
            ):
                raise Gone(f"too old resource version: {resource_version} ({self._log[0].resource_version})")
            newer = []
            for e in reversed(self._log):  # the log is in resourceVersion order: read only the new tail
                if e.resource_version <= resource_version:
                    break
                if e.kind == kind and (not namespace or e.object.get("metadata", {}).get("namespace") == namespace):
                    newer.append(e)
            newer.reverse()
            return newer

    def wait_for_change(self, resource_version: int, timeout: float) -> bool:
        """Block until the store moves past `resource_version` or the timeout (wall seconds) passes."""
        with self._lock:
            return self._changed.wait_for(lambda: self._rv > resource_version, timeout=timeout)

    def digest(self) -> builtins.list[tuple[str, str, str, Obj]]:
        """Every stored object without volatile metadata: equal digests mean equal clusters."""
        with self._lock:
            out = []
            for kind, bucket in sorted(self._buckets.items()):
                for (ns, name), obj in sorted(bucket.objects.items()):
                    clean = copy.deepcopy(obj)
                    for volatile in ("uid", "resourceVersion"):
                        clean["metadata"].pop(volatile, None)
                    out.append((kind, ns, name, clean))
            return out
