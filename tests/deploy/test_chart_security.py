"""The chart's security posture: the checkpoint witness and its key, secrets only in Secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from agent.secret_settings import SECRET_SETTINGS
from agent.settings import SettingsError, load_settings
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


def _nested(path: tuple[str, ...], value: str) -> dict[str, Any]:
    node: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        node = {part: node}
    return node


@pytest.mark.parametrize("path", list(SECRET_SETTINGS), ids=".".join)
def test_a_secret_under_config_is_refused_naming_the_secret_value(path: tuple[str, ...]) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(SECRET_SETTINGS[path])) as caught:
        render({"config": _nested(path, "in-plain-text")})
    assert f"/config/{'/'.join(path)}" in str(caught.value)


def test_the_refusal_cannot_be_passed_by_quoting_the_message() -> None:
    message = "a Secret: set secrets.audit.existingSecret, never config.audit.hmac_key"
    with pytest.raises(helm.HelmValuesError, match="hmac_key"):
        render({"config": {"audit": {"hmac_key": message}}})


@pytest.mark.parametrize(
    "name",
    [
        "scutum_audit__hmac_key",
        "Scutum_Slack__Bot_Token",
        "SCUTUM_AUDIT__SIGNING_KEY",
        "SCUTUM_DATABASE__MIGRATION_URL",
        "scutum_planner__llm__api_key",
        "SCUTUM_SLACK",
        "scutum_planner__llm",
    ],
)
def test_extra_env_refuses_secret_names_in_any_case_and_whole_sections(name: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="extraEnv"):
        render({"extraEnv": [{"name": name, "value": "in-plain-text"}]})


def test_extra_env_still_takes_plain_settings_of_the_same_sections() -> None:
    name = "SCUTUM_AUDIT__CHECKPOINT_INTERVAL_SECONDS"
    assert _env(render({"extraEnv": [{"name": name, "value": "30"}]}))[name]["value"] == "30"


def test_the_chart_turns_strict_secrets_on(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(settings_configmap(render())["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, env={"SCUTUM_AUDIT__HMAC_KEY": "from-a-secret"})
    assert settings.agent.strict_secrets is True
    with pytest.raises(SettingsError, match=r"audit\.hmac_key"):
        load_settings(config, env={"scutum_audit__hmac_key": "from-extra-env"})


@pytest.mark.parametrize("path", list(SECRET_SETTINGS), ids=".".join)
def test_every_secret_setting_reaches_the_agent_from_its_secret(path: tuple[str, ...]) -> None:
    from agent.secret_settings import variable

    chart_value = SECRET_SETTINGS[path].split(".")  # e.g. secrets.slack.existingSecret
    values: dict[str, Any] = _nested(tuple(chart_value), "the-secret")
    if chart_value[0] == "database" and chart_value[-1] == "ownerSecret":
        values["database"]["existingSecret"] = "runtime-secret"
    docs = render(values)
    containers = [
        c
        for d in of_kind(docs, "Deployment")
        for c in [
            *d["spec"]["template"]["spec"]["containers"],
            *d["spec"]["template"]["spec"].get("initContainers", []),
        ]
    ]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for c in containers
        for e in c.get("env", [])
        if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
    }
    assert refs.get(variable(path)) in ("the-secret", "runtime-secret")
