"""Which settings are secrets, and where each must come from.

A secret reaches the agent only as its exact upper-case `SCUTUM_*` variable, which the chart
fills from a Secret (`secretKeyRef`). With `agent.strict_secrets` on (the chart's default) the
agent refuses to start when one arrives any other way: from the settings file (a ConfigMap),
a whole-section JSON variable, or a variable spelled in another case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.settings_sources import ENV_DELIMITER, ENV_PREFIX

SECRET_SETTINGS: dict[tuple[str, ...], str] = {
    ("slack", "bot_token"): "secrets.slack.existingSecret",
    ("slack", "app_token"): "secrets.slack.existingSecret",
    ("slack", "signing_secret"): "secrets.slack.existingSecret",
    ("audit", "hmac_key"): "secrets.audit.existingSecret",
    ("audit", "signing_key"): "secrets.checkpoints.existingSecret",
    ("audit", "previous_signing_key"): "secrets.checkpoints.existingSecret",
    ("database", "url"): "database.existingSecret",
    ("database", "migration_url"): "database.ownerSecret",
    ("alertmanager", "webhook_token"): "secrets.webhook.existingSecret",
    ("planner", "llm", "api_key"): "secrets.llm.existingSecret",
    ("mattermost", "bot_token"): "secrets.mattermost.existingSecret",
    ("mattermost", "action_secret"): "secrets.mattermost.existingSecret",
    ("paging", "pagerduty", "routing_key"): "secrets.paging.existingSecret",
    ("paging", "opsgenie", "api_key"): "secrets.paging.existingSecret",
    ("approvals", "oncall", "api_key"): "secrets.oncall.existingSecret",
    ("console", "csrf_key"): "secrets.console.existingSecret",
}
"""Each secret setting and the chart value naming the Secret it comes from."""


def variable(path: tuple[str, ...]) -> str:
    """The one variable a secret may arrive in: `SCUTUM_SLACK__BOT_TOKEN`."""
    return ENV_PREFIX + ENV_DELIMITER.join(path).upper()


def misplaced_secrets(data: Mapping[str, Any], sources: Mapping[tuple[str, ...], str]) -> list[str]:
    """One line per secret setting in `data` that came from anywhere but its own variable."""
    problems = []
    for path, chart_value in SECRET_SETTINGS.items():
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node in (None, ""):
            continue
        source = next((sources[path[:n]] for n in range(len(path), 0, -1) if path[:n] in sources), "defaults")
        if source != f"environment variable {variable(path)}":
            problems.append(
                f"{'.'.join(path)} (from {source}): a secret must come from a Secret as {variable(path)} "
                f"(chart: {chart_value})"
            )
    return problems
