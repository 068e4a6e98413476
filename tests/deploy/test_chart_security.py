"""The chart's security posture: the checkpoint witness and its key, secrets only in Secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.settings import load_settings
from tests.deploy.chart import NAMESPACE, of_kind, render, settings_configmap


def _env(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (deployment,) = of_kind(docs, "Deployment")
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_checkpoint_witness_is_kept_and_only_it_is_writable(tmp_path: Path) -> None:
    key = "A" * 43 + "="
    docs = render({"secrets": {"checkpoints": {"existingSecret": "scutum-checkpoint-key"}},
                   "checkpoints": {"publicKeys": [key]}})  # fmt: skip
    witness = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == "scutum-checkpoints")
    assert witness["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    (role,) = [r for r in of_kind(docs, "Role") if r["metadata"]["name"] == "scutum-checkpoints"]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["scutum-checkpoints"],
         "verbs": ["get", "update"]}
    ]  # fmt: skip
    env = _env(docs)
    assert env["SCUTUM_AUDIT__SIGNING_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "scutum-checkpoint-key"
    assert env["SCUTUM_AUDIT__PREVIOUS_SIGNING_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    config = tmp_path / "config.yaml"
    config.write_text(settings_configmap(docs)["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.audit.checkpoint_configmap == "scutum-checkpoints"
    assert settings.audit.checkpoint_public_keys == [key]


def test_without_a_checkpoint_secret_no_signing_key_is_wired() -> None:
    assert "SCUTUM_AUDIT__SIGNING_KEY" not in _env(render())


def test_two_database_secrets_split_the_owner_from_the_daemon(tmp_path: Path) -> None:
    values = {"replicaCount": 2, "database": {"existingSecret": "scutum-db-runtime", "ownerSecret": "scutum-db-owner"}}
    docs = render(values)
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["args"][:2] == ["db", "upgrade"]
    init_env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in migrate["env"]}
    assert init_env == {
        "SCUTUM_DATABASE__URL": "scutum-db-runtime",
        "SCUTUM_DATABASE__MIGRATION_URL": "scutum-db-owner",
    }
    daemon = _env(docs)
    assert daemon["SCUTUM_DATABASE__URL"]["valueFrom"]["secretKeyRef"]["name"] == "scutum-db-runtime"
    assert "SCUTUM_DATABASE__MIGRATION_URL" not in daemon
    assert "scutum-db-owner" not in str(pod["containers"])
    config = tmp_path / "config.yaml"
    config.write_text(settings_configmap(docs)["data"]["config.yaml"], encoding="utf-8")
    assert load_settings(config, env={}).database.migrate_on_start is False


def test_one_database_secret_keeps_migrating_on_start(tmp_path: Path) -> None:
    docs = render({"database": {"existingSecret": "scutum-db"}})
    (deployment,) = of_kind(docs, "Deployment")
    assert "initContainers" not in deployment["spec"]["template"]["spec"]
    config = tmp_path / "config.yaml"
    config.write_text(settings_configmap(docs)["data"]["config.yaml"], encoding="utf-8")
    assert load_settings(config, env={}).database.migrate_on_start is True
