"""A watch cache that serves the probes' reads: informer style, one LIST then a WATCH per kind.

`ClusterCache` implements `ClusterReader`. For each cached kind it lists once, then a
background thread watches from the list's resourceVersion and applies every change;
an expired watch (410) or a failed one relists. Reads are answered from memory with
indexes by namespace, by controller owner and (for pods) by node. Kinds that are not
cached, and selectors the cache cannot evaluate, fall through to live reads.

Objects are kept compressed (`risk.compact`) and decoded when read, frozen (`risk.frozen`): a
caller that tries to change one gets a TypeError, and the most recently read ones are kept
decoded, so repeated reads return the same object without decoding again. The first list of a
kind is taken as the server's raw JSON (`Kube.list_json`) and split into items without building
them. Every change also gets a sequence number, so a consumer such as the snapshot keeper can ask
for what changed since its last look (`changed_since`, in bounded steps) instead of reading the
whole cluster.
"""

from __future__ import annotations

import builtins
import gc
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from actions.kube import RESOURCES, KubeError, NotFoundError, WatchEvent
from risk.compact import Codec, Key, KindStore, RecentObjects, split_list
from risk.objects import meta
from risk.sources import ClusterReader

Obj = dict[str, Any]

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
RECENT_OBJECTS = 1024
"""Objects kept decoded after a read (the rest stay compressed until read)."""
ZDICT_SAMPLES = 64
"""A kind's compression dictionary is built from (at most) its first this many listed objects."""
FIRST_LISTS_AT_ONCE = 2
"""Kinds listed at once at start: the next list is on the wire while one is being stored."""


class WatchingKube(ClusterReader, Protocol):
    """The parts of `actions.kube.Kube` the cache uses: the reads, plus list+watch."""

    requests: int

    def list_json(self, kind: str, namespace: str | None = None) -> bytes:
        """Live list, the response body undecoded."""
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


class _CollectionPauses:
    """Overlapping pauses from several threads (two first lists at once, the keeper beside
    them): the collector is switched off by the first and back on by the last, if it was on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = 0
        self._resume = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            if self._held == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                if self._held == 0 and self._resume:
                    gc.enable()


_PAUSES = _CollectionPauses()


def collection_paused() -> AbstractContextManager[None]:
    """No cyclic garbage collection while a list is frozen: JSON has no cycles, and tens of
    thousands of new containers would otherwise set off full collections that rescan the whole
    heap, again and again, for most of the list's cost. Restored after the last overlapping
    pause ends (it stays off if it was)."""
    return _PAUSES.paused()


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
        self._stores = {kind: KindStore(self._codec(kind, [])) for kind in self._kinds}
        self._recent = RecentObjects(RECENT_OBJECTS)
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
        """List every kind (a few at once, and wait for all), then watch each in a background
        thread. The lists overlap: one kind is stored while the API server sends the next."""
        with ThreadPoolExecutor(max_workers=FIRST_LISTS_AT_ONCE, thread_name_prefix="cache-list") as pool:
            versions = dict(zip(self._kinds, pool.map(self._relist, self._kinds), strict=True))
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

    @staticmethod
    def _codec(kind: str, items: builtins.list[memoryview]) -> Codec:
        resource = RESOURCES.get(kind)
        api_version = resource.api_version if resource else None
        return Codec.from_samples(kind, items[:ZDICT_SAMPLES], api_version=api_version)

    def _relist(self, kind: str) -> str:
        """Replace the kind's objects with a fresh list's (built aside, then swapped in)."""
        items, version = split_list(self._kube.list_json(kind))
        store = KindStore(self._codec(kind, items))
        with collection_paused():
            for item in items:
                store.put_json(item, next(self._seq))
        del items
        with self._lock:
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
        with self._lock:
            store = self._stores[kind]
            if event.type == "DELETED":
                store.remove(_key(event.object))
            else:
                store.put(event.object, next(self._seq))
            self._lock.notify_all()

    def changed_since(
        self, kind: str, cursor: int, *, limit: int | None = None
    ) -> tuple[builtins.list[Obj], int] | None:
        """Objects of `kind` added or changed after `cursor` (0: all), oldest change first, at
        most `limit` of them, and the cursor to pass next time (after the last one returned);
        None when the kind is not cached. Costs what changed; a walk of everything in steps of
        `limit` holds one step's objects at a time."""
        with self._lock:
            store = self._stores.get(kind)
            if store is None:
                return None
            picked, top = store.changed_since(cursor, limit)
            codec = store.codec
        return [self._recent.read(codec, key, blob, keep=False) for key, blob in picked], top

    @property
    def decodes(self) -> int:
        """Objects decoded from their compressed form so far (reads the recent ones did not serve)."""
        return self._recent.decodes

    def __len__(self) -> int:
        """Objects cached, all kinds."""
        with self._lock:
            return sum(len(store) for store in self._stores.values())

    # --- reads -------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """The cached object (read-only), or NotFoundError; live for kinds not cached."""
        found = self.try_get(kind, name, namespace)
        if found is None:
            raise NotFoundError(f"{kind} {namespace}/{name} not found", status=404, reason="NotFound")
        return found

    def holds(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Whether the object exists: an index lookup for cached kinds (nothing decoded), a live
        read for the rest."""
        if kind not in self._stores:
            return self.try_get(kind, name, namespace) is not None
        with self._lock:
            return (namespace or "", name) in self._stores[kind].entries

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The cached object (read-only) or None; live for kinds not cached."""
        if kind not in self._stores:
            self.live_reads += 1
            return self._kube.try_get(kind, name, namespace)
        key = (namespace or "", name)
        with self._lock:
            store = self._stores[kind]
            entry = store.entries.get(key)
            if entry is None:
                return None
            codec = store.codec
        return self._recent.read(codec, key, entry.blob)

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
        in_namespace = namespace if namespace is not None else fields.get("metadata.namespace")
        if fields.get("metadata.namespace", in_namespace) != in_namespace:
            return []
        with self._lock:
            store = self._stores[kind]
            picked = store.select(
                namespace=in_namespace,
                node=fields.get("spec.nodeName"),
                name=fields.get("metadata.name"),
                labels=wanted,
            )
            codec = store.codec
        return [self._recent.read(codec, key, blob) for key, blob in picked]

    def list_owned(self, kind: str, owner_uid: str) -> builtins.list[Obj]:
        """Cached objects of `kind` whose controller owner has `owner_uid` (the owner index)."""
        with self._lock:
            store = self._stores.get(kind)
            if store is None:
                return []
            picked = store.select(owner_uid=owner_uid)
            codec = store.codec
        return [self._recent.read(codec, key, blob) for key, blob in picked]
