"""Settings: YAML and SCUTUM_ variables, precedence, and errors that name field and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import (
    REDACTED,
    JsonLogs,
    PlannerKind,
    SettingsError,
    load_settings,
    redacted,
    settings_variable_names,
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scutum.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file_and_use_sqlite_in_data_dir() -> None:
    settings = load_settings(env={})
    assert settings.database_url() == "sqlite:///scutum-data/scutum.db"
    assert settings.planner.kind is PlannerKind.RUNBOOK
    assert settings.actions.limits().max_scale_replicas == 50


def test_yaml_values_are_read_and_environment_wins(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "http:\n  port: 9000\n  host: 0.0.0.0\n"
        "planner:\n  kind: llm\n  llm:\n    model: small\n"
        "logging:\n  json: true\n",
    )
    env = {"SCUTUM_HTTP__PORT": "9100", "SCUTUM_PLANNER__LLM__MAX_TOKENS": "512", "HOME": "/ignored"}

    settings = load_settings(path, env=env)

    assert settings.http.port == 9100
    assert settings.http.host == "0.0.0.0"
    assert settings.planner.kind is PlannerKind.LLM
    assert (settings.planner.llm.model, settings.planner.llm.max_tokens) == ("small", 512)
    assert settings.logging.json_lines is JsonLogs.TRUE


def test_config_file_can_come_from_scutum_config(tmp_path: Path) -> None:
    path = _write(tmp_path, "data_dir: /var/lib/scutum\n")
    settings = load_settings(env={"SCUTUM_CONFIG": str(path)})
    assert settings.data_dir == Path("/var/lib/scutum")


def test_structured_values_in_variables_are_json_and_mapping_entries_nest() -> None:
    env = {
        "SCUTUM_AGENT__MANAGED_NAMESPACES": '["shop", "blog"]',
        "SCUTUM_ALERTMANAGER__LABEL_FILTERS__CLUSTER": "prod",
        "SCUTUM_POLICY__NAMESPACES__SHOP__EXECUTE_MAX": "0.1",
    }
    settings = load_settings(env=env)
    assert settings.agent.managed_namespaces == ["shop", "blog"]
    assert settings.alertmanager.label_filters == {"cluster": "prod"}
    assert settings.policy.namespaces["shop"].execute_max == 0.1


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "http:\n  port: 9000\n  host: [unclosed\n")
    with pytest.raises(SettingsError, match=r"scutum\.yaml:4:1: malformed YAML") as caught:
        load_settings(path, env={})
    assert str(path) in str(caught.value)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="must be a mapping"):
        load_settings(_write(tmp_path, "- a\n- b\n"), env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(tmp_path / "absent.yaml", env={})


def test_unknown_key_in_file_names_key_file_and_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, "databse:\n  url: sqlite:///x.db\nplanner:\n  llm:\n    modle: x\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert f"databse (from file {path}): unknown key; did you mean 'database'?" in message
    assert "planner.llm.modle" in message
    assert "did you mean 'model'?" in message


def test_wrong_type_names_field_and_source(tmp_path: Path) -> None:
    path = _write(tmp_path, "http:\n  port: lots\n")
    with pytest.raises(
        SettingsError, match=r"http\.port \(from file .*scutum\.yaml\): Input should be a valid integer"
    ):
        load_settings(path, env={})
    with pytest.raises(SettingsError, match=r"http\.port \(from environment variable SCUTUM_HTTP__PORT\)"):
        load_settings(env={"SCUTUM_HTTP__PORT": "99999"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SCUTUM_ALERTMANAGER__URL", "not a url"),
        ("SCUTUM_ALERTMANAGER__URL", "ftp://alertmanager:9093"),
        ("SCUTUM_KUBE__URL", "https://"),
        ("SCUTUM_PLANNER__LLM__BASE_URL", "localhost:8000"),
    ],
)
def test_urls_are_validated_when_settings_load(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match="is not an http\\(s\\) URL with a host"):
        load_settings(env={key: value})


def test_unknown_scutum_variable_names_it_and_suggests_closest() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"SCUTUM_DATABSE__URL": "postgresql+psycopg://db/scutum"})
    assert "unknown environment variable SCUTUM_DATABSE__URL" in str(caught.value)
    assert "did you mean SCUTUM_DATABASE__URL?" in str(caught.value)


def test_bad_json_in_structured_variable_is_reported() -> None:
    with pytest.raises(SettingsError, match="SCUTUM_AGENT__MANAGED_NAMESPACES: expected JSON"):
        load_settings(env={"SCUTUM_AGENT__MANAGED_NAMESPACES": "shop,blog"})


def test_other_variables_are_ignored() -> None:
    assert load_settings(env={"PATH": "/bin", "SCUTUMX": "1"}).http.port == 8080


def test_redacted_hides_every_secret_and_url_password() -> None:
    env = {
        "SCUTUM_PLANNER__LLM__API_KEY": "sk-live-123",
        "SCUTUM_AUDIT__HMAC_KEY": "chain-key",
        "SCUTUM_SLACK__BOT_TOKEN": "xoxb-123",
        "SCUTUM_DATABASE__URL": "postgresql+psycopg://scutum:hunter2@db:5432/scutum",
    }
    data = redacted(load_settings(env=env))

    text = repr(data)
    for secret in ("sk-live-123", "chain-key", "xoxb-123", "hunter2"):
        assert secret not in text
    assert data["planner"]["llm"]["api_key"] == REDACTED
    assert data["slack"]["bot_token"] == REDACTED
    assert data["database"]["url"] == f"postgresql+psycopg://scutum:{REDACTED}@db:5432/scutum"


def test_every_field_is_documented_and_has_a_variable() -> None:
    names = settings_variable_names()
    assert "SCUTUM_PLANNER__LLM__API_KEY" in names
    assert "SCUTUM_LOGGING__JSON" in names
    assert len(names) == len(set(names))
