"""ClusterCache without a server: a scripted adapter feeds lists and watch events."""

from __future__ import annotations

import builtins
import copy
import gc
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from actions.kube import NotFoundError, WatchEvent
from risk.cache import ClusterCache, collection_paused

Obj = dict[str, Any]


def _pod(name: str, node: str, *, ns: str = "shop", app: str = "web", rv: str = "1") -> Obj:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}, "resourceVersion": rv},
        "spec": {"nodeName": node},
    }


class ScriptedKube:
    """Lists return `objects`; watches stream what the test puts on `events` (None ends a watch)."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.events: queue.Queue[WatchEvent | None] = queue.Queue()
        self.requests = 0
        self.lists = 0

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        self.requests += 1
        raise NotFoundError("live", status=404)

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        self.requests += 1
        return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "live": True}

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        self.requests += 1
        return [{"kind": kind, "metadata": {"name": "live"}}]

    def list_json(self, kind: str, namespace: str | None = None) -> bytes:
        self.requests += 1
        self.lists += 1
        items = [o for o in self.objects if o["kind"] == kind]
        return json.dumps({"metadata": {"resourceVersion": str(self.lists)}, "items": items}).encode()

    def watch(
        self, kind: str, namespace: str | None = None, *, resource_version: str = "", timeout_seconds: int = 30
    ) -> Iterator[WatchEvent]:
        # Watches are not counted: the scripted ones reconnect every 50 ms and would make counts racy.
        while True:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                return
            if event is None:
                return
            yield event


@pytest.fixture
def scripted() -> ScriptedKube:
    return ScriptedKube([_pod("a", "n1"), _pod("b", "n1", app="api"), _pod("c", "n2", ns="other")])


def test_lists_by_namespace_node_and_labels_from_memory(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        before = scripted.requests
        assert [p["metadata"]["name"] for p in cache.list("Pod", "shop")] == ["a", "b"]
        assert [p["metadata"]["name"] for p in cache.list("Pod", field_selector="spec.nodeName=n1")] == ["a", "b"]
        assert [p["metadata"]["name"] for p in cache.list("Pod", "shop", label_selector="app=api")] == ["b"]
        assert cache.try_get("Pod", "c", "other") is not None
        assert cache.try_get("Pod", "zzz", "other") is None
        assert scripted.requests == before
        assert cache.live_reads == 0


def test_unsupported_selectors_and_uncached_kinds_go_live(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        assert cache.list("Pod", "shop", label_selector="app in (web)")[0]["metadata"]["name"] == "live"
        assert cache.try_get("ConfigMap", "cfg", "shop") is not None
        assert cache.live_reads == 2


def test_watch_events_add_modify_and_delete(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        scripted.events.put(WatchEvent("ADDED", _pod("d", "n1", rv="5")))
        scripted.events.put(WatchEvent("DELETED", _pod("a", "n1", rv="6")))
        moved = _pod("b", "n2", app="api", rv="7")
        scripted.events.put(WatchEvent("MODIFIED", moved))
        assert cache.wait_until(lambda c: c.try_get("Pod", "b", "shop") == moved, timeout=5.0)
        on_n1 = [p["metadata"]["name"] for p in cache.list("Pod", field_selector="spec.nodeName=n1")]
        assert on_n1 == ["d"]


def test_an_expired_watch_relists(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        scripted.objects.append(_pod("late", "n3"))
        scripted.events.put(WatchEvent("ERROR", {"code": 410, "reason": "Expired"}))
        assert cache.wait_until(lambda c: c.try_get("Pod", "late", "shop") is not None, timeout=5.0)
        assert scripted.lists >= 2


def test_get_of_a_missing_cached_object_raises_not_found(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache, pytest.raises(NotFoundError):
        cache.get("Pod", "nope", "shop")


def test_requests_pass_through_to_the_adapter(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        assert cache.requests == scripted.requests


def test_reads_share_one_read_only_object_that_callers_cannot_change(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        first = cache.get("Pod", "a", "shop")
        assert first is cache.try_get("Pod", "a", "shop") is cache.list("Pod", "shop")[0]
        with pytest.raises(TypeError):
            first["metadata"]["labels"]["app"] = "changed"
        with pytest.raises(TypeError):
            first["spec"].pop("nodeName")
        with pytest.raises(TypeError):
            first.setdefault("status", {})
        copied = copy.deepcopy(first)
        copied["metadata"]["labels"]["app"] = "changed"
        assert cache.get("Pod", "a", "shop")["metadata"]["labels"] == {"app": "web"}
        assert json.loads(json.dumps(first)) == _pod("a", "n1")


def test_changed_since_returns_only_what_changed_after_the_cursor(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        everything = cache.changed_since("Pod", 0)
        assert everything is not None
        objects, cursor = everything
        assert sorted(o["metadata"]["name"] for o in objects) == ["a", "b", "c"]
        assert cache.changed_since("Pod", cursor) == ([], cursor)
        scripted.events.put(WatchEvent("MODIFIED", _pod("b", "n1", app="api", rv="9")))
        scripted.events.put(WatchEvent("DELETED", _pod("a", "n1", rv="10")))
        assert cache.wait_until(lambda c: c.try_get("Pod", "a", "shop") is None, timeout=5.0)
        changed, later = cache.changed_since("Pod", cursor) or ([], 0)
        assert [o["metadata"]["resourceVersion"] for o in changed] == ["9"]
        assert later > cursor
        assert cache.changed_since("ConfigMap", 0) is None, "a kind the cache does not follow"


def test_a_selected_read_decodes_only_the_objects_it_returns(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        assert len(cache) == 3
        assert cache.decodes == 0, "nothing is decoded before it is read"
        assert [p["metadata"]["name"] for p in cache.list("Pod", "shop", label_selector="app=api")] == ["b"]
        assert cache.decodes == 1
        cache.list("Pod", "shop", label_selector="app=api")
        assert cache.decodes == 1, "a recent object is not decoded again"


def test_changed_since_walks_everything_in_bounded_steps(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        cursor, names = 0, []
        while (step := cache.changed_since("Pod", cursor, limit=2)) and step[0]:
            assert len(step[0]) <= 2
            names += [o["metadata"]["name"] for o in step[0]]
            cursor = step[1]
        assert sorted(names) == ["a", "b", "c"]
        assert cache.changed_since("Pod", cursor) == ([], cursor)


def test_holds_answers_existence_from_the_index_alone(scripted: ScriptedKube) -> None:
    with ClusterCache(scripted, kinds=("Pod",)) as cache:
        before = scripted.requests
        assert cache.holds("Pod", "c", "other")
        assert not cache.holds("Pod", "c", "shop"), "the same name in another namespace"
        assert not cache.holds("Pod", "zzz", "other")
        assert cache.decodes == 0, "nothing decoded to answer"
        assert scripted.requests == before
        assert cache.holds("ConfigMap", "cfg", "shop"), "a kind not cached is asked live"
        assert scripted.requests == before + 1


def test_overlapping_collection_pauses_resume_the_collector_only_when_the_last_ends() -> None:
    assert gc.isenabled()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def second() -> None:
        first_in.wait()
        with collection_paused():
            second_in.set()
            first_out.wait()
            seen.append(gc.isenabled())

    thread = threading.Thread(target=second)
    thread.start()
    with collection_paused():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert seen == [False], "the first pause ending must not switch the collector back on under the second"
    assert gc.isenabled()
