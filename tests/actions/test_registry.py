"""The closed registry: exactly nine actions, validated params, a read API and merged permissions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from actions.base import ActionName, Permission
from actions.registry import (
    REGISTRY,
    RegistryError,
    UnknownActionError,
    build_registry,
    catalog,
    get_action,
    merge_permissions,
    params_schema,
    parse_invocation,
    required_permissions,
)
from actions.restart_workload import RestartWorkload
from actions.suspend_cronjob import SuspendCronJob

PINNED = {
    "restart_workload",
    "scale_workload",
    "rollback_workload",
    "restore_configmap",
    "restore_service",
    "set_resources",
    "evict_pod",
    "drain_node",
    "suspend_cronjob",
}


def test_registry_holds_exactly_the_pinned_nine() -> None:
    assert {name.value for name in REGISTRY} == PINNED
    assert {name.value for name in ActionName} == PINNED
    assert all(action.name == name for name, action in REGISTRY.items())


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        REGISTRY[ActionName.EVICT_POD] = RestartWorkload()  # type: ignore[index]


def test_a_tenth_entry_is_refused() -> None:
    class Tenth(SuspendCronJob):
        name = "delete_namespace"  # type: ignore[assignment]

    with pytest.raises(RegistryError, match="unknown action name 'delete_namespace'"):
        build_registry([*REGISTRY.values(), Tenth()])


def test_a_duplicate_entry_is_refused() -> None:
    with pytest.raises(RegistryError, match="duplicate action 'restart_workload'"):
        build_registry([*REGISTRY.values(), RestartWorkload()])


def test_a_missing_entry_is_refused() -> None:
    others = [a for n, a in REGISTRY.items() if n != ActionName.DRAIN_NODE]
    with pytest.raises(RegistryError, match="missing actions: drain_node"):
        build_registry(others)


def test_unknown_name_raises_a_clear_error() -> None:
    with pytest.raises(UnknownActionError, match=r"unknown action 'kubectl_exec'.*restart_workload"):
        get_action("kubectl_exec")
    with pytest.raises(UnknownActionError):
        parse_invocation("kubectl_exec", {})


def test_get_action_accepts_a_string_or_the_enum() -> None:
    assert get_action("evict_pod") is get_action(ActionName.EVICT_POD)


def test_catalog_describes_every_action() -> None:
    entries = catalog()
    assert [e["name"] for e in entries] == [n.value for n in REGISTRY]
    for entry in entries:
        assert set(entry) == {"name", "summary", "params_schema", "reversibility", "scope", "permissions"}
        assert entry["params_schema"]["additionalProperties"] is False
        assert entry["permissions"]


def test_params_schema_carries_field_docstrings() -> None:
    schema = params_schema("rollback_workload")
    assert "incident began" in schema["properties"]["before"]["description"]
    assert set(schema["required"]) >= {"kind", "namespace", "name", "before"}


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("scale_workload", {"kind": "Deployment", "namespace": "Shop_1", "name": "web", "replicas": 2}, "namespace"),
        ("scale_workload", {"kind": "Deployment", "namespace": "shop", "name": "web", "replicas": -1}, "replicas"),
        ("scale_workload", {"kind": "DaemonSet", "namespace": "shop", "name": "web", "replicas": 2}, "kind"),
        ("scale_workload", {"kind": "Deployment", "namespace": "shop", "name": "web", "replicas": "2"}, "replicas"),
        ("evict_pod", {"namespace": "shop", "name": "web-1", "force": True}, "force"),
        ("evict_pod", {"namespace": "shop", "name": "x" * 254}, "name"),
        ("rollback_workload", {"kind": "Deployment", "namespace": "shop", "name": "web"}, "before"),
        (
            "rollback_workload",
            {"kind": "Deployment", "namespace": "shop", "name": "web", "before": "2026-01-01T00:00:00"},
            "before",
        ),
        (
            "set_resources",
            {"kind": "Deployment", "namespace": "s", "name": "w", "container": "app", "cpu_limit": "lots"},
            "cpu_limit",
        ),
        (
            "restart_workload",
            {"kind": "Deployment", "namespace": "s", "name": "w", "restart_token": "a b"},
            "restart_token",
        ),
        ("drain_node", {"name": "node-1", "cordon": "yes"}, "cordon"),
    ],
)
def test_bad_params_are_rejected_naming_the_field(name: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_invocation(name, params)
    assert field in {str(loc) for error in caught.value.errors() for loc in error["loc"]}
    assert field in str(caught.value)


def test_params_that_contradict_each_other_are_rejected() -> None:
    with pytest.raises(ValidationError, match="evict_pods needs cordon=True"):
        parse_invocation("drain_node", {"name": "node-1", "cordon": False, "evict_pods": True})
    with pytest.raises(ValidationError, match="set at least one"):
        parse_invocation("set_resources", {"kind": "Deployment", "namespace": "s", "name": "w", "container": "app"})


def test_parsed_params_are_frozen() -> None:
    _, params = parse_invocation("suspend_cronjob", {"namespace": "jobs", "name": "report"})
    with pytest.raises(ValidationError):
        params.suspend = False  # type: ignore[attr-defined]


def test_required_permissions_are_merged_sorted_and_never_secrets() -> None:
    permissions = required_permissions()
    keys = [(p.group, p.resource) for p in permissions]
    assert keys == sorted(set(keys))
    by_key = {(p.group, p.resource): p.verbs for p in permissions}
    assert by_key[("apps", "deployments")] == ("get", "list", "patch", "update")
    assert by_key[("", "pods/eviction")] == ("create",)
    assert all("secrets" not in p.resource and "*" not in p.verbs for p in permissions)


def test_merge_permissions_unions_verbs_per_resource() -> None:
    merged = merge_permissions([Permission("", "pods", ("list",)), Permission("", "pods", ("get", "list"))])
    assert merged == [Permission("", "pods", ("get", "list"))]
