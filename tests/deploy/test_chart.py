"""The chart renders offline, lints clean, and every manifest is valid Kubernetes (strict)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from agent.planning.runbook import load_runbook
from agent.settings import load_settings
from tests.deploy.chart import CHART_DIR, NAMESPACE, ROOT, ha_values, of_kind, render, settings_configmap

K8S_VERSION = kubernetes_validate.utils.latest_version()
CRD_GROUPS = ("monitoring.coreos.com/",)


@pytest.fixture(scope="module")
def default_docs() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def ha_docs() -> list[dict[str, Any]]:
    return render(ha_values())


def _validate_all(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            assert doc["spec"]["endpoints"][0]["path"] == "/metrics"
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_default_values_render_valid_manifests(default_docs: list[dict[str, Any]]) -> None:
    kinds = sorted({doc["kind"] for doc in default_docs})
    assert [c["metadata"]["name"] for c in of_kind(default_docs, "ConfigMap")] == ["scutum-checkpoints", "scutum"]
    assert kinds == sorted(
        {
            "ConfigMap",
            "Deployment",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        }
    )
    _validate_all(default_docs)


def test_ha_values_render_valid_manifests(ha_docs: list[dict[str, Any]]) -> None:
    kinds = {doc["kind"] for doc in ha_docs}
    assert {"PodDisruptionBudget", "ServiceMonitor"} <= kinds
    assert "PersistentVolumeClaim" not in kinds
    _validate_all(ha_docs)


def test_namespaced_rbac_renders_valid_manifests() -> None:
    docs = render({"rbac": {"namespaced": True}, "managedNamespaces": ["shop", "payments"]})
    _validate_all(docs)
    roles = {(role["metadata"]["namespace"], role["metadata"]["name"]) for role in of_kind(docs, "Role")}
    assert roles == {
        ("shop", "scutum"),
        ("payments", "scutum"),
        (NAMESPACE, "scutum-leader-election"),
        (NAMESPACE, "scutum-checkpoints"),
    }


@pytest.mark.parametrize("values", [None, ha_values()], ids=["default", "ha"])
def test_helm_lint_reports_no_errors_or_warnings(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == []


def test_default_is_one_replica_on_sqlite_with_a_volume(default_docs: list[dict[str, Any]]) -> None:
    (deployment,) = of_kind(default_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "scutum-data"


def test_pod_is_hardened(default_docs: list[dict[str, Any]]) -> None:
    (deployment,) = of_kind(default_docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["runAsUser"] == 10001 and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["image"] == "scutum/scutum:0.1.0"


def test_secrets_reach_the_pod_only_through_secret_refs(ha_docs: list[dict[str, Any]]) -> None:
    (deployment,) = of_kind(ha_docs, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name, secret in [
        ("SCUTUM_DATABASE__URL", "scutum-database"),
        ("SCUTUM_SLACK__BOT_TOKEN", "scutum-slack"),
        ("SCUTUM_SLACK__APP_TOKEN", "scutum-slack"),
        ("SCUTUM_SLACK__SIGNING_SECRET", "scutum-slack"),
        ("SCUTUM_PLANNER__LLM__API_KEY", "scutum-llm"),
        ("SCUTUM_AUDIT__HMAC_KEY", "scutum-audit"),
        ("SCUTUM_ALERTMANAGER__WEBHOOK_TOKEN", "scutum-webhook"),
    ]:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert "value" not in env[name]
    config_map = settings_configmap(ha_docs)
    assert "scutum-database" not in str(config_map) and "token" not in str(config_map["data"]).lower()


def test_image_digest_pins_the_image() -> None:
    digest = "sha256:" + "a" * 64
    (deployment,) = of_kind(render({"image": {"digest": digest}}), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"scutum/scutum:0.1.0@{digest}"


def test_three_replicas_without_a_database_url_refuse_to_render() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"replicaCount > 1 needs a shared PostgreSQL database"):
        render({"replicaCount": 3})


def test_several_replicas_without_leader_election_refuse_to_render() -> None:
    values = {"replicaCount": 2, "database": {"existingSecret": "db"}, "leaderElection": {"enabled": False}}
    with pytest.raises(helm.HelmRenderError, match=r"needs leaderElection.enabled"):
        render(values)


def test_namespaced_rbac_without_namespaces_refuses_to_render() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"needs managedNamespaces"):
        render({"rbac": {"namespaced": True}})


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicaCont": 3}, "replicaCont"),
        ({"persistence": {"sise": "2Gi"}}, "sise"),
        ({"config": {"agnet": {"shadow": True}}}, "agnet"),
        ({"image": {"tag": "latest"}}, "/image/tag"),
    ],
)
def test_typo_in_values_fails_schema_validation(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=where):
        render(values)


def _config_files(docs: list[dict[str, Any]]) -> dict[str, str]:
    configmap = settings_configmap(docs)
    data: dict[str, str] = configmap["data"]
    return data


@pytest.mark.parametrize("values", [None, "ha"], ids=["default", "ha"])
def test_rendered_settings_load_as_the_daemon_loads_them(values: str | None, tmp_path: Path) -> None:
    """The chart's config.yaml must be accepted by `scutum run --config` (unknown keys fail there)."""
    docs = render(ha_values() if values == "ha" else None)
    config = tmp_path / "config.yaml"
    config.write_text(_config_files(docs)["config.yaml"], encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.policy.shadow is True, "a fresh install starts in shadow mode"
    assert settings.kube.in_cluster is True


def test_default_install_uses_the_shipped_runbook(default_docs: list[dict[str, Any]], tmp_path: Path) -> None:
    files = _config_files(default_docs)
    assert "runbook.yaml" not in files
    config = tmp_path / "config.yaml"
    config.write_text(files["config.yaml"], encoding="utf-8")
    assert load_settings(config, env={}).planner.runbook_path is None
    assert load_runbook(None).rules, "the shipped runbook has rules"


def test_a_runbook_in_values_is_mounted_and_loads(tmp_path: Path) -> None:
    shipped = (ROOT / "agent" / "planning" / "default_runbook.yaml").read_text(encoding="utf-8")
    files = _config_files(render({"runbook": shipped}))
    (tmp_path / "runbook.yaml").write_text(files["runbook.yaml"], encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(files["config.yaml"], encoding="utf-8")
    assert load_settings(config, env={}).planner.runbook_path == Path("/etc/scutum/runbook.yaml")
    assert load_runbook(tmp_path / "runbook.yaml").rules


@pytest.mark.parametrize(
    "name", ["SCUTUM_SLACK__BOT_TOKEN", "SCUTUM_DATABASE__URL", "SCUTUM_ALERTMANAGER__WEBHOOK_TOKEN"]
)
def test_secrets_cannot_be_set_in_plain_text_through_extra_env(name: str) -> None:
    with pytest.raises(Exception, match="extraEnv"):
        render({"extraEnv": [{"name": name, "value": "in-plain-text"}]})


def test_ordinary_settings_may_be_set_through_extra_env() -> None:
    docs = render({"extraEnv": [{"name": "SCUTUM_LOGGING__LEVEL", "value": "debug"}]})
    (deployment,) = of_kind(docs, "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SCUTUM_LOGGING__LEVEL"] == "debug"
