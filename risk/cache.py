"""A watch cache that serves the probes' reads: informer style, one LIST then a WATCH per kind.

`ClusterCache` implements `ClusterReader`. For each cached kind it lists once, then a
background thread watches from the list's resourceVersion and applies every change;
an expired watch (410) or a failed one relists. Reads are answered from memory with
indexes by namespace, by controller owner and (for pods) by node. Kinds that are not
cached, and selectors the cache cannot evaluate, fall through to live reads.

Cached objects are frozen when they arrive (`risk.frozen`): reads return them without a copy,
and a caller that tries to change one gets a TypeError. Every change also gets a sequence
number, so a consumer such as the snapshot keeper can ask for what changed since its last
look (`changed_since`) instead of reading the whole cluster.
"""

from __future__ import annotations

import builtins
import gc
import itertools
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from actions.kube import KubeError, NotFoundError, WatchEvent
from risk.frozen import freeze
from risk.objects import controller_owner, labels, meta
from risk.sources import ClusterReader

Obj = dict[str, Any]
Key = tuple[str, str]
"""(namespace or "", name)"""

DEFAULT_KINDS = (
    "Namespace",
    "Node",
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ControllerRevision",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "ConfigMap",
    "Service",
)
"""What the probes and the snapshot keeper read (never Secrets)."""


class WatchingKube(ClusterReader, Protocol):
    """The parts of `actions.kube.Kube` the cache uses: the reads, plus list+watch."""

    requests: int

    def list_with_version(self, kind: str, namespace: str | None = None) -> tuple[builtins.list[Obj], str]:
        """Live list with the list's resourceVersion."""
        ...

    def watch(
        self, kind: str, namespace: str | None = None, *, resource_version: str = "", timeout_seconds: int = 30
    ) -> Iterator[WatchEvent]:
        """Changes after a resourceVersion."""
        ...


def _key(obj: Obj) -> Key:
    m = meta(obj)
    return str(m.get("namespace") or ""), str(m.get("name") or "")


def _parse_equalities(selector: str) -> dict[str, str] | None:
    """`a=b,c==d` as a dict; None when the selector uses anything else (set-based, !=)."""
    wanted: dict[str, str] = {}
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!" in term or "(" in term or "=" not in term:
            return None
        key, _, value = term.replace("==", "=").partition("=")
        wanted[key.strip()] = value.strip()
    return wanted


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a list is frozen: JSON has no cycles, and tens of
    thousands of new containers would otherwise set off full collections that rescan the whole
    heap, again and again, for most of the list's cost. Restored after (it stays off if it was)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _frozen(kind: str, obj: Obj) -> Obj:
    """The object as the cache keeps it: read-only, with its kind."""
    if "kind" not in obj:
        obj = {**obj, "kind": kind}
    frozen: Obj = freeze(obj)
    return frozen


class _KindStore:
    """Objects of one kind with their indexes."""

    def __init__(self) -> None:
        self.objects: dict[Key, Obj] = {}
        self.by_namespace: dict[str, set[Key]] = defaultdict(set)
        self.by_owner: dict[str, set[Key]] = defaultdict(set)
        self.by_node: dict[str, set[Key]] = defaultdict(set)
        self.changes: OrderedDict[Key, int] = OrderedDict()
        """Each object's latest change number, oldest change first."""

    def put(self, obj: Obj, seq: int) -> None:
        """Store a frozen object as change number `seq`."""
        key = _key(obj)
        self.remove(key)
        self.objects[key] = obj
        self.changes[key] = seq
        self.by_namespace[key[0]].add(key)
        owner = controller_owner(obj)
        if owner and owner.get("uid"):
            self.by_owner[str(owner["uid"])].add(key)
        node = (obj.get("spec") or {}).get("nodeName")
        if node:
            self.by_node[str(node)].add(key)

    def remove(self, key: Key) -> None:
        """Forget an object and its index entries."""
        old = self.objects.pop(key, None)
        if old is None:
            return
        del self.changes[key]
        self.by_namespace[key[0]].discard(key)
        owner = controller_owner(old)
        if owner and owner.get("uid"):
            self.by_owner[str(owner["uid"])].discard(key)
        node = (old.get("spec") or {}).get("nodeName")
        if node:
            self.by_node[str(node)].discard(key)


class ClusterCache:
    """An informer-style cache over `Kube`, usable wherever a `ClusterReader` is expected."""

    def __init__(
        self,
        kube: WatchingKube,
        *,
        kinds: Sequence[str] = DEFAULT_KINDS,
        watch_timeout_seconds: int = 30,
        retry_seconds: float = 1.0,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self._kube = kube
        self._kinds = tuple(kinds)
        self._stores = {kind: _KindStore() for kind in self._kinds}
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watch_timeout = watch_timeout_seconds
        self._retry_seconds = retry_seconds
        self._on_error = on_error
        self._seq = itertools.count(1)
        self.live_reads = 0
        """Reads the cache could not serve and passed to the API server."""

    @property
    def requests(self) -> int:
        """HTTP requests the underlying adapter has sent (lists, watches and live reads)."""
        return self._kube.requests

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """List every kind (synchronously), then watch each in a background thread."""
        versions = {kind: self._relist(kind) for kind in self._kinds}
        for kind in self._kinds:
            thread = threading.Thread(
                target=self._watch_loop, args=(kind, versions[kind]), name=f"cache-{kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 0.2) -> None:
        """Ask the watch threads to end and wait at most `timeout` seconds in all.

        A thread blocked in an open watch ends when that watch returns (its server-side
        timeout) or fails; the threads are daemons, so none keeps the process alive.
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> ClusterCache:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_until(self, predicate: Callable[[ClusterCache], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds after some change, or `timeout` seconds pass."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout)

    def _relist(self, kind: str) -> str:
        return self._load(kind, *self._kube.list_with_version(kind))

    def _load(self, kind: str, items: builtins.list[Obj], version: str) -> str:
        """Replace the kind's objects with a fresh list's."""
        store = _KindStore()
        with collection_paused():
            frozen = [_frozen(kind, item) for item in items]
        with self._lock:
            for obj in frozen:
                store.put(obj, next(self._seq))
            self._stores[kind] = store
            self._lock.notify_all()
        return version

    def _watch_loop(self, kind: str, version: str) -> None:
        while not self._stop.is_set():
            try:
                version = self._watch_once(kind, version)
            except KubeError as exc:
                if self._on_error is not None:
                    self._on_error(kind, exc)
                if self._stop.wait(self._retry_seconds):
                    return
                try:
                    version = self._relist(kind)
                except KubeError as relist_error:
                    if self._on_error is not None:
                        self._on_error(kind, relist_error)

    def _watch_once(self, kind: str, version: str) -> str:
        for event in self._kube.watch(kind, resource_version=version, timeout_seconds=self._watch_timeout):
            if self._stop.is_set():
                break
            if event.type == "ERROR":
                return self._relist(kind)
            new_version = str(meta(event.object).get("resourceVersion") or version)
            if event.type != "BOOKMARK":
                self._apply(kind, event)
            version = new_version
        return version

    def _apply(self, kind: str, event: WatchEvent) -> None:
        obj = _frozen(kind, event.object)
        with self._lock:
            store = self._stores[kind]
            if event.type == "DELETED":
                store.remove(_key(obj))
            else:
                store.put(obj, next(self._seq))
            self._lock.notify_all()

    def changed_since(self, kind: str, cursor: int) -> tuple[builtins.list[Obj], int] | None:
        """Objects of `kind` added or changed after `cursor` (0: all), oldest change first, and
        the cursor to pass next time; None when the kind is not cached. Costs what changed."""
        with self._lock:
            store = self._stores.get(kind)
            if store is None:
                return None
            newer: builtins.list[Obj] = []
            top = cursor
            for key in reversed(store.changes):
                seq = store.changes[key]
                if seq <= cursor:
                    break
                top = max(top, seq)
                newer.append(store.objects[key])
            newer.reverse()
            return newer, top

    # --- reads -------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """The cached object (read-only), or NotFoundError; live for kinds not cached."""
        found = self.try_get(kind, name, namespace)
        if found is None:
            raise NotFoundError(f"{kind} {namespace}/{name} not found", status=404, reason="NotFound")
        return found

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The cached object (read-only) or None; live for kinds not cached."""
        if kind not in self._stores:
            self.live_reads += 1
            return self._kube.try_get(kind, name, namespace)
        with self._lock:
            return self._stores[kind].objects.get((namespace or "", name))

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        """Cached objects matching (read-only); live when the kind or a selector is beyond the cache."""
        wanted = _parse_equalities(label_selector) if label_selector else {}
        fields = _parse_equalities(field_selector) if field_selector else {}
        supported = {"spec.nodeName", "metadata.name", "metadata.namespace"}
        if kind not in self._stores or wanted is None or fields is None or not set(fields) <= supported:
            self.live_reads += 1
            return self._kube.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)
        with self._lock:
            store = self._stores[kind]
            keys: set[Key] | builtins.list[Key]
            if "spec.nodeName" in fields:
                keys = set(store.by_node.get(fields["spec.nodeName"], set()))
            elif namespace is not None:
                keys = set(store.by_namespace.get(namespace, set()))
            else:
                keys = builtins.list(store.objects)
            found = []
            for key in sorted(keys):
                obj = store.objects[key]
                if namespace is not None and key[0] != namespace:
                    continue
                if fields.get("metadata.name", key[1]) != key[1] or fields.get("metadata.namespace", key[0]) != key[0]:
                    continue
                obj_labels = labels(obj)
                if all(obj_labels.get(k) == v for k, v in wanted.items()):
                    found.append(obj)
            return found

    def list_owned(self, kind: str, owner_uid: str) -> builtins.list[Obj]:
        """Cached objects of `kind` whose controller owner has `owner_uid` (the owner index)."""
        with self._lock:
            store = self._stores.get(kind)
            if store is None:
                return []
            return [store.objects[k] for k in sorted(store.by_owner.get(owner_uid, set()))]
