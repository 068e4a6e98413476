"""The optional PrometheusRule: off by default, and when on it alerts on the drift gauge the agent exports."""

from __future__ import annotations

import helm_python as helm

from agent.metrics import Metrics
from tests.deploy.chart import CHART_DIR, NAMESPACE, of_kind, render


def test_no_prometheus_rule_by_default() -> None:
    assert of_kind(render(), "PrometheusRule") == []


def test_enabled_rule_alerts_on_the_drift_signal_gauge() -> None:
    values = {"prometheusRule": {"enabled": True, "for": "30m", "labels": {"release": "kube-prometheus"}}}
    (rule,) = of_kind(render(values), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"
    (alert,) = rule["spec"]["groups"][0]["rules"]
    assert alert["for"] == "30m"
    assert "scutum_drift_signal" in alert["expr"]
    assert "{{ $labels.signal }}" in alert["annotations"]["summary"]
    assert "scutum_drift_signal" in _metric_names()


def test_enabled_rule_lints_clean() -> None:
    report = helm.lint(CHART_DIR, {"prometheusRule": {"enabled": True}}, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == []


def _metric_names() -> set[str]:
    return {metric.name for metric in Metrics().registry.collect()}
