"""The chart grants exactly what the registry declares plus the documented reads, nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from actions.base import Permission
from agent import rbac
from tests.deploy.chart import NAMESPACE, of_kind, render

NAMESPACES = ["shop", "payments"]


def _granted(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rule of every Role and ClusterRole, flattened to one (group, resource) per rule and merged."""
    perms = [
        Permission(group, resource, tuple(rule["verbs"]))
        for kind in ("ClusterRole", "Role")
        for role in of_kind(docs, kind)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    ]
    return rbac.merge(perms)


def test_generated_rules_file_matches_the_registry() -> None:
    expected = rbac.render_rbac_yaml()
    actual = rbac.CHART_RULES_FILE.read_text(encoding="utf-8")
    assert actual == expected, "deploy/helm/scutum/files/rbac-rules.yaml drifted from the registry: run `make docs`"


def test_cluster_wide_chart_grants_exactly_registry_plus_reads_plus_lease() -> None:
    assert _granted(render()) == rbac.rules(namespaced=False)


def test_namespaced_chart_grants_exactly_registry_plus_reads_plus_lease() -> None:
    docs = render({"rbac": {"namespaced": True}, "managedNamespaces": NAMESPACES})
    assert _granted(docs) == rbac.rules(namespaced=True)
    cluster_roles = of_kind(docs, "ClusterRole")
    cluster_resources = {r for role in cluster_roles for rule in role["rules"] for r in rule["resources"]}
    assert cluster_resources == {"nodes", "namespaces"}


@pytest.mark.parametrize("namespaced", [False, True])
def test_rendered_rules_have_no_wildcards_secrets_or_escalation(namespaced: bool) -> None:
    values = {"rbac": {"namespaced": True}, "managedNamespaces": NAMESPACES} if namespaced else None
    for kind in ("ClusterRole", "Role"):
        for role in of_kind(render(values), kind):
            for rule in role["rules"]:
                assert "*" not in rule["apiGroups"] and "*" not in rule["resources"] and "*" not in rule["verbs"]
                assert not {r.split("/")[0] for r in rule["resources"]} & {"secrets"}
                assert not set(rule["verbs"]) & {"escalate", "bind", "impersonate"}


def test_lease_role_lives_in_the_release_namespace_only() -> None:
    docs = render()
    lease_roles = [r for r in of_kind(docs, "Role") if any("leases" in rule["resources"] for rule in r["rules"])]
    assert [r["metadata"]["namespace"] for r in lease_roles] == [NAMESPACE]
    cluster = of_kind(docs, "ClusterRole")
    assert not any("leases" in rule["resources"] for role in cluster for rule in role["rules"])


def test_rules_merge_verbs_per_resource_and_add_reads() -> None:
    perms = [Permission("apps", "deployments", ("patch",)), Permission("apps", "deployments", ("get", "update"))]
    merged = {(r["apiGroups"][0], r["resources"][0]): r["verbs"] for r in rbac.rules(False, permissions=perms)}
    assert merged[("apps", "deployments")] == ["get", "list", "patch", "update", "watch"]
    assert merged[("coordination.k8s.io", "leases")] == ["create", "get", "patch", "update"]
    assert merged[("", "nodes")] == ["get", "list", "watch"]


def test_namespaced_rules_keep_nodes_in_the_cluster_scoped_section() -> None:
    sections = rbac.rule_sections([Permission("", "nodes", ("patch",)), Permission("", "pods/eviction", ("create",))])
    assert ("", "nodes") not in {(r["apiGroups"][0], r["resources"][0]) for r in sections["namespaced"]}
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch", "watch"]} in sections[
        "clusterScoped"
    ]


@pytest.mark.parametrize(
    ("permission", "message"),
    [
        (Permission("", "secrets", ("get",)), "secrets"),
        (Permission("*", "pods", ("get",)), "group"),
        (Permission("apps", "*", ("get",)), r"'\*'"),
        (Permission("", "pods", ("*",)), "verbs"),
        (Permission("rbac.authorization.k8s.io", "clusterroles", ("bind",)), "verbs"),
        (Permission("", "serviceaccounts", ("impersonate",)), "verbs"),
        (Permission("example.com", "widgets", ("get",)), "RESOURCES"),
    ],
)
def test_generator_refuses_unsafe_or_unknown_permissions(permission: Permission, message: str) -> None:
    with pytest.raises(rbac.UnsafeRuleError, match=message):
        rbac.rules(False, permissions=[permission])
