"""Offline rendering of the chart through the Helm v4 SDK, shared by the deploy tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "deploy" / "helm" / "scutum"
HA_VALUES = Path(__file__).with_name("values-ha.yaml")
RELEASE = "scutum"
NAMESPACE = "scutum-system"


def ha_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(HA_VALUES.read_text(encoding="utf-8"))
    return loaded


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Validate `values` against the schema as `helm install` does, render, return the objects."""
    with helm.Chart.load(CHART_DIR) as chart:
        chart.validate_schema(values or {})
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def settings_configmap(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ConfigMap holding the agent's settings (not the checkpoint witness)."""
    (configmap,) = [doc for doc in of_kind(docs, "ConfigMap") if doc["metadata"]["name"] == RELEASE]
    return configmap
