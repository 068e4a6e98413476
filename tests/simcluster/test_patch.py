"""The three patch formats, as a real API server applies them."""

from __future__ import annotations

from typing import Any

import pytest

from simcluster.errors import BadRequest, Invalid
from simcluster.patch import apply_patch, json_merge_patch, json_patch, strategic_merge_patch


def _deployment() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a"]},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80}, {"containerPort": 443}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "sidecar", "image": "envoy:1"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a"}],
                }
            },
        },
    }


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return containers


def test_merge_patch_merges_maps_deletes_nulls_and_replaces_lists() -> None:
    doc = _deployment()
    out = json_merge_patch(doc, {"metadata": {"labels": {"tier": None, "x": "y"}}, "spec": {"template": None}})
    assert out["metadata"]["labels"] == {"app": "web", "x": "y"}
    assert "template" not in out["spec"]
    replaced = json_merge_patch(doc, {"metadata": {"finalizers": ["b"]}})
    assert replaced["metadata"]["finalizers"] == ["b"]
    assert doc == _deployment(), "inputs are never changed"


def test_json_patch_applies_every_operation_in_order() -> None:
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/new~1key", "value": "v"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "third", "image": "x"}},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/copied", "path": "/spec/moved"},
        {"op": "test", "path": "/spec/moved", "value": 5},
    ]
    out = json_patch(_deployment(), ops)
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["labels"] == {"app": "web", "new/key": "v"}
    assert [c["name"] for c in _containers(out)] == ["web", "sidecar", "third"]
    assert out["spec"]["moved"] == 5 and "copied" not in out["spec"]


def test_json_patch_failed_test_or_missing_path_is_invalid() -> None:
    with pytest.raises(Invalid):
        json_patch(_deployment(), [{"op": "test", "path": "/spec/replicas", "value": 9}])
    with pytest.raises(Invalid):
        json_patch(_deployment(), [{"op": "replace", "path": "/spec/nothing/here", "value": 1}])
    with pytest.raises(BadRequest):
        json_patch(_deployment(), {"op": "add"})


def test_strategic_merge_merges_containers_env_ports_and_mounts_by_key() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:2",
                            "env": [{"name": "B", "value": "changed"}, {"name": "C", "value": "3"}],
                            "ports": [{"containerPort": 8080}],
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                        }
                    ]
                }
            }
        }
    }
    out = strategic_merge_patch(_deployment(), patch)
    web, sidecar = _containers(out)
    assert web["image"] == "nginx:2" and sidecar == {"name": "sidecar", "image": "envoy:1"}
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "changed"}, {"name": "C", "value": "3"}]
    assert [p["containerPort"] for p in web["ports"]] == [80, 443, 8080]
    assert [m["mountPath"] for m in web["volumeMounts"]] == ["/data", "/cache"]


def test_strategic_merge_replaces_lists_without_merge_key_and_unions_finalizers() -> None:
    patch = {"metadata": {"finalizers": ["b", "a"]}, "spec": {"template": {"spec": {"tolerations": [{"key": "b"}]}}}}
    out = strategic_merge_patch(_deployment(), patch)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "b"}]
    assert out["metadata"]["finalizers"] == ["a", "b"]


def test_strategic_merge_service_ports_merge_by_port() -> None:
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    out = strategic_merge_patch(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}]


def test_strategic_merge_honours_delete_replace_and_element_order_directives() -> None:
    deleted = strategic_merge_patch(
        _deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    )
    assert [c["name"] for c in _containers(deleted)] == ["web"]
    replaced = strategic_merge_patch(
        _deployment(),
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "i"}, {"$patch": "replace"}]}}}},
    )
    assert _containers(replaced) == [{"name": "only", "image": "i"}]
    reordered = strategic_merge_patch(
        _deployment(),
        {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}}},
    )
    assert [c["name"] for c in _containers(reordered)] == ["sidecar", "web"]
    map_replaced = strategic_merge_patch(_deployment(), {"metadata": {"labels": {"$patch": "replace", "only": "me"}}})
    assert map_replaced["metadata"]["labels"] == {"only": "me"}


def test_strategic_merge_delete_from_primitive_list_and_retain_keys() -> None:
    out = strategic_merge_patch(_deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == []
    strategy = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    recreated = strategic_merge_patch(strategy, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert recreated["spec"]["strategy"] == {"type": "Recreate"}


def test_apply_patch_dispatches_on_content_type() -> None:
    doc = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}}}}
    strategic = apply_patch("application/strategic-merge-patch+json", doc, patch)
    merged = apply_patch("application/merge-patch+json; charset=utf-8", doc, patch)
    assert len(strategic["spec"]["template"]["spec"]["containers"]) == 2
    assert len(merged["spec"]["template"]["spec"]["containers"]) == 1
    with pytest.raises(BadRequest):
        apply_patch("text/plain", doc, patch)
