"""Custom resources in the store: a stored CRD defines a type served like a built-in one."""

from __future__ import annotations

from typing import Any

import pytest

from simcluster.clock import ManualClock
from simcluster.errors import NotFound
from simcluster.http.routing import resolve
from simcluster.store import ObjectStore

Obj = dict[str, Any]


def crd(kind: str, plural: str, group: str, *, scope: str = "Namespaced", status: bool = True) -> Obj:
    """A CustomResourceDefinition with one served storage version v1."""
    version: Obj = {"name": "v1", "served": True, "storage": True}
    if status:
        version["subresources"] = {"status": {}}
    return {
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": plural}, "versions": [version]},
    }


@pytest.fixture
def store() -> ObjectStore:
    s = ObjectStore(ManualClock())
    s.create("Namespace", {"metadata": {"name": "shop"}})
    return s


def test_a_custom_kind_is_unknown_until_its_crd_is_stored(store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        store.create("Widget", {"metadata": {"name": "w", "namespace": "shop"}, "spec": {}})
    store.create("CustomResourceDefinition", crd("Widget", "widgets", "example.com"))
    made = store.create("Widget", {"metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 1}})
    assert made["apiVersion"] == "example.com/v1" and made["metadata"]["generation"] == 1
    route = resolve("/apis/example.com/v1/namespaces/shop/widgets/w/status", store.types)
    assert route is not None and route.resource.kind == "Widget" and route.subresource == "status"
    assert resolve("/apis/example.com/v1/namespaces/shop/widgets/w") is None  # built-in types only


def test_custom_resources_are_watched_updated_and_collected_with_their_owner(store: ObjectStore) -> None:
    store.create("CustomResourceDefinition", crd("Widget", "widgets", "example.com"))
    start = store.resource_version
    owner = store.create("Widget", {"metadata": {"name": "w", "namespace": "shop"}, "spec": {"size": 1}})
    store.mutate("Widget", "shop", "w", lambda o: o["spec"].update(size=2))
    ref = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "name": "w",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    store.create("ConfigMap", {"metadata": {"name": "child", "namespace": "shop", "ownerReferences": [ref]}})
    events = store.events_since(start, "Widget")
    assert [e.type for e in events] == ["ADDED", "MODIFIED"]
    assert store.get("Widget", "shop", "w")["metadata"]["generation"] == 2
    store.delete("Widget", "shop", "w")
    assert store.try_get("ConfigMap", "shop", "child") is None


def test_a_crd_cannot_shadow_a_built_in_kind_and_an_incomplete_one_defines_nothing(store: ObjectStore) -> None:
    store.create("CustomResourceDefinition", crd("Deployment", "deployments", "example.com"))
    broken = crd("Gadget", "gadgets", "example.com")
    broken["spec"]["versions"] = []
    store.create("CustomResourceDefinition", broken)
    kinds = {t.kind: t for t in store.types.all()}
    assert kinds["Deployment"].group == "apps" and "Gadget" not in kinds


def test_cluster_scoped_custom_kind_keeps_no_namespace(store: ObjectStore) -> None:
    store.create("CustomResourceDefinition", crd("Tenant", "tenants", "example.com", scope="Cluster", status=False))
    made = store.create("Tenant", {"metadata": {"name": "t", "namespace": "shop"}, "spec": {}})
    assert "namespace" not in made["metadata"]
    assert store.types.by_path("example.com", "v1", "tenants") is not None


def test_deleting_a_crd_deletes_its_resources_and_a_new_one_starts_empty(store: ObjectStore) -> None:
    store.create("CustomResourceDefinition", crd("Widget", "widgets", "example.com"))
    store.create("Widget", {"metadata": {"name": "w", "namespace": "shop"}, "spec": {}})
    start = store.resource_version
    store.delete("CustomResourceDefinition", None, "widgets.example.com")
    assert [e.type for e in store.events_since(start, "Widget")] == ["DELETED"]
    with pytest.raises(NotFound):
        store.list("Widget")
    store.create("CustomResourceDefinition", crd("Widget", "widgets", "example.com"))
    assert store.list("Widget")[0] == []
