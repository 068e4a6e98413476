"""Secrets only in Secrets: with strict_secrets on, a secret setting from the settings file, a
whole-section variable or a variable in another case stops the agent before it starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from agent.secret_settings import SECRET_SETTINGS, variable
from agent.settings import Settings, SettingsError, load_settings, section_model

STRICT = {"SCUTUM_AGENT__STRICT_SECRETS": "true"}


def _secret_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        nested = section_model(info.annotation)
        if nested is not None:
            found |= _secret_fields(nested, path)
        elif "SecretStr" in str(info.annotation) or info.annotation is SecretStr:
            found.add(path)
    return found


def test_every_secret_setting_is_known_with_its_chart_secret() -> None:
    assert _secret_fields(Settings) | {("database", "url")} == set(SECRET_SETTINGS)


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        node = {part: node}
    return node


@pytest.mark.parametrize("path", list(SECRET_SETTINGS), ids=".".join)
def test_strict_refuses_a_secret_from_the_settings_file(path: tuple[str, ...], tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(_nested(path, "postgresql://u:p@db/x")), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env=STRICT)
    message = str(caught.value)
    assert ".".join(path) in message and variable(path) in message and SECRET_SETTINGS[path] in message
    assert "postgresql://u:p@db/x" not in message, "the refusal never shows the secret"
    assert load_settings(config, env={}) is not None, "without strict_secrets the file is accepted"


@pytest.mark.parametrize(
    "env",
    [
        {"scutum_audit__hmac_key": "k"},
        {"Scutum_Slack__Bot_Token": "xoxb-1"},
        {"SCUTUM_SLACK": '{"bot_token": "xoxb-1"}'},
        {"SCUTUM_PLANNER__LLM": '{"api_key": "sk-1"}'},
    ],
)
def test_strict_refuses_a_secret_from_a_variable_not_its_own(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="must come from a Secret"):
        load_settings(None, env={**STRICT, **env})


def test_strict_accepts_secrets_in_their_own_variables() -> None:
    env = {**STRICT, **{variable(path): "postgresql://u:p@db/x" for path in SECRET_SETTINGS}}
    env[variable(("audit", "signing_key"))] = env[variable(("audit", "previous_signing_key"))] = "a2V5"
    settings = load_settings(None, env=env)
    assert settings.slack.bot_token.get_secret_value() == "postgresql://u:p@db/x"
    assert settings.agent.strict_secrets is True
