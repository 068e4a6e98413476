"""The simulated cluster at size: the owner index, copy-free watch log, scheduler heap and the
scaled estate (behaviour only; the timings are in bench/)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simcluster.clock import ManualClock
from simcluster.cluster import SimCluster
from simcluster.scaled import load_scaled
from simcluster.scheduler import Scheduler, node_schedulable, pod_requests
from simcluster.store import ObjectStore

Obj = dict[str, Any]


def _store() -> ObjectStore:
    store = ObjectStore(ManualClock(), uid_seed=3)
    store.create("Namespace", {"metadata": {"name": "app"}})
    return store


def _owned_by(owner: Obj, name: str, *, controller: bool = True) -> Obj:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    return {"metadata": {"name": name, "namespace": "app", "ownerReferences": [ref | {"controller": controller}]}}


def test_owner_index_follows_reparenting_and_deletion() -> None:
    store = _store()
    first = store.create("ConfigMap", {"metadata": {"name": "first", "namespace": "app"}})
    second = store.create("ConfigMap", {"metadata": {"name": "second", "namespace": "app"}})
    store.create("ConfigMap", _owned_by(first, "b-child"))
    store.create("ConfigMap", _owned_by(first, "a-child"))
    store.create("ConfigMap", _owned_by(first, "not-controlled", controller=False))
    assert [o["metadata"]["name"] for o in store.iter_owned("ConfigMap", first["metadata"]["uid"])] == [
        "a-child",
        "b-child",
    ]

    def reparent(obj: Obj) -> None:
        obj["metadata"]["ownerReferences"] = _owned_by(second, "x")["metadata"]["ownerReferences"]

    store.mutate("ConfigMap", "app", "b-child", reparent)
    assert [o["metadata"]["name"] for o in store.iter_owned("ConfigMap", first["metadata"]["uid"])] == ["a-child"]
    assert [o["metadata"]["name"] for o in store.iter_owned("ConfigMap", second["metadata"]["uid"])] == ["b-child"]

    store.delete("ConfigMap", "app", "first")
    left = {o["metadata"]["name"] for o in store.list("ConfigMap", "app")[0]}
    assert left == {"second", "b-child"}  # a-child and not-controlled went with their owner
    assert store.iter_owned("ConfigMap", first["metadata"]["uid"]) == []


def test_watch_log_keeps_each_version_as_it_was() -> None:
    store = _store()
    store.create("ConfigMap", {"metadata": {"name": "cm", "namespace": "app"}, "data": {"v": "1"}})
    store.write_status("ConfigMap", "app", "cm", {"seen": True})
    store.update("ConfigMap", {"metadata": {"name": "cm", "namespace": "app"}, "data": {"v": "2"}})
    store.delete("ConfigMap", "app", "cm")
    events = store.events_since(0, "ConfigMap")
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
    assert [e.object["metadata"]["resourceVersion"] for e in events] == [str(e.resource_version) for e in events]
    assert events[0].object["data"] == {"v": "1"} and "status" not in events[0].object
    assert events[2].object["data"] == {"v": "2"}


def test_reads_cannot_change_stored_objects() -> None:
    store = _store()
    created = store.create("ConfigMap", {"metadata": {"name": "cm", "namespace": "app"}, "data": {"v": "1"}})
    created["data"]["v"] = "changed"
    store.get("ConfigMap", "app", "cm")["data"]["v"] = "changed"
    store.list("ConfigMap", "app")[0][0]["data"]["v"] = "changed"
    assert store.get("ConfigMap", "app", "cm")["data"] == {"v": "1"}
    assert store.events_since(0, "ConfigMap")[0].object["data"] == {"v": "1"}


def test_events_since_reads_only_newer_events() -> None:
    store = _store()
    for index in range(5):
        store.create("ConfigMap", {"metadata": {"name": f"cm-{index}", "namespace": "app"}})
    third = store.events_since(0, "ConfigMap")[2].resource_version
    assert [e.object["metadata"]["name"] for e in store.events_since(third, "ConfigMap")] == ["cm-3", "cm-4"]
    assert store.events_since(store.resource_version, "ConfigMap") == []


def _naive_place(nodes: list[Obj], used: dict[str, list[float]], pod: Obj) -> str | None:
    """The scheduler's rule written as a scan over every node (the reference for the heap)."""
    cpu, memory = pod_requests(pod)
    fitting = [
        n
        for n in nodes
        if node_schedulable(n)
        and used[n["metadata"]["name"]][0] + cpu <= float(n["status"]["allocatable"]["cpu"])
        and used[n["metadata"]["name"]][1] + memory <= float(n["status"]["allocatable"]["memory"])
    ]
    if not fitting:
        return None
    name: str = min(
        (str(n["metadata"]["name"]) for n in fitting), key=lambda name: (used[name][2], used[name][0], name)
    )
    used[name][0] += cpu
    used[name][1] += memory
    used[name][2] += 1
    return name


@settings(max_examples=60, deadline=None)
@given(
    capacities=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=6),
    cordoned=st.sets(st.integers(min_value=0, max_value=5)),
    requests=st.lists(st.integers(min_value=0, max_value=3), max_size=25),
)
def test_scheduler_places_as_a_full_scan_would(capacities: list[int], cordoned: set[int], requests: list[int]) -> None:
    nodes: list[Obj] = []
    for index, cpu in enumerate(capacities):
        ready = [{"type": "Ready", "status": "True"}]
        allocatable = {"cpu": str(cpu), "memory": "1000"}
        nodes.append(
            {
                "metadata": {"name": f"n{index}"},
                "spec": {"unschedulable": index in cordoned},
                "status": {"allocatable": allocatable, "conditions": ready},
            }
        )
    pods = [{"spec": {"containers": [{"resources": {"requests": {"cpu": str(cpu)}}}]}} for cpu in requests]
    scheduler = Scheduler(nodes, [])
    used = {n["metadata"]["name"]: [0.0, 0.0, 0.0] for n in nodes}
    for pod in pods:
        assert scheduler.place(pod) == _naive_place(nodes, used, pod)


def test_scaled_estate_settles_ready_with_endpoints() -> None:
    cluster = SimCluster(seed=2)
    estate = load_scaled(cluster.store, deployments=30, namespaces=4)
    cluster.settle(passes=4, seconds=2.0)
    assert len(estate.deployments) == 30
    deployments = cluster.store.list("Deployment")[0]
    assert all(d["status"].get("availableReplicas") == 1 for d in deployments)
    assert len(cluster.store.list("ReplicaSet")[0]) == 30
    assert len(cluster.store.list("ConfigMap")[0]) == 30
    endpoints = cluster.store.list("Endpoints")[0]
    assert len(endpoints) == 30 and all(e["subsets"][0].get("addresses") for e in endpoints)
    assert cluster.alerts.firing(cluster.clock.now()) == []
