"""The chart's admission policies: valid against the Kubernetes 1.30 schemas, generated from the
registry, and their CEL admitting Scutum's own writes while denying what its policy forbids."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from actions.base import Permission
from agent import admission, rbac
from tests.deploy.admission_eval import Request, denials
from tests.deploy.chart import NAMESPACE, of_kind, render
from tests.deploy.test_rbac import _granted

SA = f"system:serviceaccount:{NAMESPACE}:scutum"
K8S_1_30 = "1.30.0"


@pytest.fixture(scope="module")
def policies() -> dict[str, dict[str, Any]]:
    docs = render({"config": {"policy": {"protected_namespaces": ["kube-system", "payments-prod"]}}})
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, "ValidatingAdmissionPolicy")}


def test_policies_and_bindings_are_valid_kubernetes_1_30() -> None:
    docs = render()
    shipped = of_kind(docs, "ValidatingAdmissionPolicy") + of_kind(docs, "ValidatingAdmissionPolicyBinding")
    assert len(shipped) == 6
    for doc in shipped:
        assert doc["apiVersion"] == "admissionregistration.k8s.io/v1"
        kubernetes_validate.validate(doc, K8S_1_30, strict=True)
    policy_names = {p["metadata"]["name"] for p in of_kind(docs, "ValidatingAdmissionPolicy")}
    bound = {b["spec"]["policyName"] for b in of_kind(docs, "ValidatingAdmissionPolicyBinding")}
    assert bound == policy_names
    assert all(b["spec"]["validationActions"] == ["Deny"] for b in of_kind(docs, "ValidatingAdmissionPolicyBinding"))


def test_admission_can_be_turned_off() -> None:
    assert not of_kind(render({"admission": {"enabled": False}}), "ValidatingAdmissionPolicy")


def test_generated_admission_file_matches_the_registry() -> None:
    assert admission.CHART_ADMISSION_FILE.read_text(encoding="utf-8") == admission.render_admission_yaml(), (
        "deploy/helm/scutum/files/admission.yaml drifted: run `make docs`"
    )


def test_every_kind_an_action_writes_is_classified_for_pod_templates() -> None:
    kinds = {k["resource"] for group in admission.template_resources().values() for k in group}
    assert kinds == {"deployments", "statefulsets", "daemonsets", "cronjobs"}
    with pytest.raises(admission.UndeclaredKindError, match="jobs"):
        admission.template_resources([Permission("batch", "jobs", ("patch",))])


# --- protected namespaces ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "resource", "group", "name", "subresource", "operation"),
    [
        ("kube-system", "deployments", "apps", "coredns", "", "UPDATE"),
        ("kube-system", "pods", "", "coredns-1", "eviction", "CREATE"),
        ("kube-system", "pods", "", "coredns-1", "", "DELETE"),
        ("kube-node-lease", "leases", "coordination.k8s.io", "node-1", "", "UPDATE"),
        ("payments-prod", "configmaps", "", "settings", "", "UPDATE"),
        (NAMESPACE, "deployments", "apps", "scutum", "", "UPDATE"),
        (NAMESPACE, "configmaps", "", "scutum", "", "UPDATE"),
        (NAMESPACE, "leases", "coordination.k8s.io", "someone-elses-lease", "", "UPDATE"),
    ],
)
def test_writes_in_protected_namespaces_are_denied(
    policies: dict[str, Any], namespace: str, resource: str, group: str, name: str, subresource: str, operation: str
) -> None:
    request = Request(SA, namespace, resource, operation, group=group, name=name, subresource=subresource)
    (message,) = denials(policies["scutum-protected-namespaces"], request)
    assert message == f"Scutum may not write {resource} in the protected namespace {namespace}"


@pytest.mark.parametrize(
    ("username", "namespace", "resource", "group", "name"),
    [
        (SA, "shop", "deployments", "apps", "web"),
        (SA, NAMESPACE, "leases", "coordination.k8s.io", "scutum-leader"),
        (SA, NAMESPACE, "configmaps", "", "scutum-checkpoints"),
        ("system:serviceaccount:kube-system:deployment-controller", "kube-system", "deployments", "apps", "coredns"),
        ("kubernetes-admin", "kube-system", "configmaps", "", "coredns"),
    ],
)
def test_scutums_own_objects_and_other_users_are_admitted(
    policies: dict[str, Any], username: str, namespace: str, resource: str, group: str, name: str
) -> None:
    request = Request(username, namespace, resource, "UPDATE", group=group, name=name)
    assert denials(policies["scutum-protected-namespaces"], request) == []


# --- pod templates -------------------------------------------------------------------------


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "template": {
                "metadata": {"annotations": {}},
                "spec": {
                    "serviceAccountName": "web",
                    "containers": [
                        {
                            "name": "web",
                            "image": "shop/web:1.4",
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "url"}}},
                            ],
                            "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}},
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "web"}}],
                },
            },
        },
    }


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(_deployment())
    edit(new["spec"]["template"]["spec"], new)
    return new


def _workload_policy(policies: dict[str, Any]) -> dict[str, Any]:
    return policies["scutum-pod-templates-daemonsets"]


def _update(new: dict[str, Any], *, username: str = SA) -> Request:
    return Request(username, "shop", "deployments", "UPDATE", group="apps", name="web", object=new,
                   old_object=_deployment())  # fmt: skip


ALLOWED = {
    "restart": lambda spec, obj: obj["spec"]["template"]["metadata"]["annotations"].update(
        {"kubectl.kubernetes.io/restartedAt": "2026-03-01T12:00:00Z"}
    ),
    "scale": lambda spec, obj: obj["spec"].update({"replicas": 6}),
    "rollback image": lambda spec, obj: spec["containers"][0].update({"image": "shop/web:1.3"}),
    "set resources": lambda spec, obj: spec["containers"][0].update({"resources": {"limits": {"memory": "1Gi"}}}),
    "plain env": lambda spec, obj: spec["containers"][0]["env"].append({"name": "LOG", "value": "debug"}),
}

DENIED = {
    "hostPath": (
        lambda spec, obj: spec["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
        "Scutum may not add a hostPath volume to a pod template",
    ),
    "secret volume": (
        lambda spec, obj: spec["volumes"].append({"name": "s", "secret": {"secretName": "cluster-admin-token"}}),
        "Scutum may not add or change volumes of a pod template",
    ),
    "changed volume": (
        lambda spec, obj: spec["volumes"][0].update({"configMap": {"name": "other"}}),
        "Scutum may not add or change volumes of a pod template",
    ),
    "env from a Secret": (
        lambda spec, obj: spec["containers"][0]["env"].append(
            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "admin", "key": "token"}}}
        ),
        "Scutum may not add env from a Secret to a pod template",
    ),
    "envFrom a Secret": (
        lambda spec, obj: spec["containers"][0].update({"envFrom": [{"secretRef": {"name": "admin"}}]}),
        "Scutum may not add envFrom a Secret to a pod template",
    ),
    "privileged": (
        lambda spec, obj: spec["containers"][0]["securityContext"].update({"privileged": True}),
        "Scutum may not make a container privileged",
    ),
    "privileged sidecar": (
        lambda spec, obj: spec.update(
            {"initContainers": [{"name": "x", "image": "x", "securityContext": {"privileged": True}}]}
        ),
        "Scutum may not make a container privileged",
    ),
    "capability": (
        lambda spec, obj: spec["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_ADMIN"),
        "Scutum may not add Linux capabilities to a container",
    ),
    "hostNetwork": (lambda spec, obj: spec.update({"hostNetwork": True}), "Scutum may not turn on hostNetwork"),
    "hostPID": (lambda spec, obj: spec.update({"hostPID": True}), "Scutum may not turn on hostPID"),
    "service account": (
        lambda spec, obj: spec.update({"serviceAccountName": "cluster-admin"}),
        "Scutum may not change the service account a pod template runs as",
    ),
}


@pytest.mark.parametrize("change", list(ALLOWED))
def test_scutums_own_kinds_of_change_are_admitted(policies: dict[str, Any], change: str) -> None:
    assert denials(_workload_policy(policies), _update(_changed(ALLOWED[change]))) == []


@pytest.mark.parametrize("change", list(DENIED))
def test_template_changes_that_reach_further_are_denied(policies: dict[str, Any], change: str) -> None:
    edit, message = DENIED[change]
    failed = denials(_workload_policy(policies), _update(_changed(edit)))
    assert failed and any(m.startswith(message) for m in failed), failed
    assert denials(_workload_policy(policies), _update(_changed(edit), username="kubernetes-admin")) == []


def test_cronjob_job_templates_are_guarded_too(policies: dict[str, Any]) -> None:
    template = _deployment()["spec"]["template"]
    old = {"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"suspend": False, "schedule": "0 * * * *",
           "jobTemplate": {"spec": {"template": template}}}}  # fmt: skip
    suspended = copy.deepcopy(old)
    suspended["spec"]["suspend"] = True
    mounted = copy.deepcopy(old)
    mounted["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"].append(
        {"name": "r", "hostPath": {"path": "/"}}
    )
    policy = policies["scutum-pod-templates-cronjobs"]

    def request(new: dict[str, Any]) -> Request:
        return Request(SA, "batch", "cronjobs", "UPDATE", group="batch", name="n", object=new, old_object=old)

    assert denials(policy, request(suspended)) == []
    assert "Scutum may not add a hostPath volume to a pod template" in denials(policy, request(mounted))


# --- writes per managed namespace ----------------------------------------------------------


def test_managed_namespaces_get_the_writes_and_the_cluster_role_only_reads() -> None:
    docs = render({"managedNamespaces": ["shop", "payments"]})
    assert _granted(docs) == rbac.rules(False, managed_writes=True)
    (cluster_role,) = of_kind(docs, "ClusterRole")
    for rule in cluster_role["rules"]:
        writes = set(rule["verbs"]) - set(rbac.READ_VERBS)
        assert not writes or rule["resources"] == ["nodes"], rule
    write_roles = {r["metadata"]["namespace"] for r in of_kind(docs, "Role") if r["metadata"]["name"] == "scutum"}
    assert write_roles == {"shop", "payments"}


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_protected_namespaces_are_refused_as_managed(namespace: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="managedNamespaces"):
        render({"managedNamespaces": ["shop", namespace]})


def test_the_release_namespace_is_refused_as_managed() -> None:
    with pytest.raises(helm.HelmRenderError, match="release namespace"):
        render({"managedNamespaces": [NAMESPACE]})
