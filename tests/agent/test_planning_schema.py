"""Runbook files: validation errors name the rule and field; templates are safe and typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actions.base import ActionName
from agent.intake import Intake
from agent.planning.base import Escalation
from agent.planning.runbook import RunbookPlanner
from agent.planning.runbook_schema import Rule, Runbook, RunbookError, load_runbook, parse_runbook
from agent.planning.templates import TemplateError, check, render
from tests.agent.fixtures.cluster import NOW, FakeCluster, deployment

RULE = """
version: 1
rules:
  - name: scale-web
    match: {alertname: WebSlow, labels: {team: web}, labels_regex: {namespace: "prod-.*"}}
    target: {label: deployment}
    action: scale_workload
    params: {kind: Deployment, namespace: "{{ target.namespace }}", name: "{{ target.name }}", replicas: REPLICAS}
"""


def runbook(replicas: str = "3", **swap: str) -> str:
    text = RULE.replace("REPLICAS", replicas)
    for old, new in swap.items():
        text = text.replace(old, new)
    return text


def test_default_runbook_loads_and_every_action_is_in_the_registry() -> None:
    book = load_runbook()
    assert len(book.rules) >= 9
    assert {r.action for r in book.rules} <= {a.value for a in ActionName}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            runbook().replace("scale_workload", "delete_namespace"),
            "rule 'scale-web', field action: Value error, unknown action 'delete_namespace'",
        ),
        (
            runbook('"{{ tgt.name | times(2) }}"'),
            "rule 'scale-web', field params: Value error, {{ tgt.name | times(2) }}: unknown value",
        ),
        (runbook('"{{ target.replicas | explode }}"'), "unknown filter 'explode'"),
        (runbook().replace("label: deployment", "label: deploy"), "rule 'scale-web', field target.label"),
        (
            runbook().replace('labels_regex: {namespace: "prod-.*"}', 'labels_regex: {namespace: "("}'),
            "labels_regex.namespace",
        ),
        (runbook().replace("name: scale-web", "name: Scale Web"), "rule 'Scale Web', field name: String should match"),
        (runbook().replace("version: 1", "version: 2"), "field version"),
        (runbook() + "    surprise: true\n", "rule 'scale-web', field surprise: Extra inputs are not permitted"),
        (runbook() + "    pending_period: soon\n", "field pending_period: Value error, 'soon' is not a duration"),
        ("rules: [", "not valid YAML"),
        ("version: 1\nrules:\n  - match: {alertname: X}\n", "rule #1, field name: Field required"),
    ],
)
def test_bad_runbook_is_a_clear_error_naming_rule_and_field(text: str, expected: str) -> None:
    with pytest.raises(RunbookError) as info:
        parse_runbook(text, source="mine.yaml")
    assert str(info.value).startswith("mine.yaml: ")
    assert expected in str(info.value)


def test_duplicate_rule_names_are_refused() -> None:
    text = runbook() + runbook().split("rules:\n", 1)[1]
    with pytest.raises(RunbookError, match="used twice"):
        parse_runbook(text)


def test_durations_accept_units_and_seconds() -> None:
    book = parse_runbook(runbook() + "    pending_period: 1h30m\n    before_margin: 90\n")
    assert book.rules[0].pending_period == timedelta(hours=1, minutes=30)
    assert book.rules[0].before_margin == timedelta(seconds=90)


def test_matcher_needs_name_equal_labels_and_regex_labels() -> None:
    match = parse_runbook(runbook()).rules[0].match
    assert match.matches("WebSlow", {"team": "web", "namespace": "prod-eu"})
    assert not match.matches("WebSlow", {"team": "web", "namespace": "staging"})
    assert not match.matches("WebSlow", {"team": "db", "namespace": "prod-eu"})
    assert not match.matches("DbSlow", {"team": "web", "namespace": "prod-eu"})


CONTEXT: dict[str, Any] = {
    "target": {"name": "web", "replicas": 3, "missing": None},
    "container": {"memory_limit": "256Mi", "cpu_limit": "1", "cpu_request": "250m"},
    "incident": {"started_at": datetime(2026, 11, 28, 4, 50, tzinfo=UTC)},
    "labels": {"app.kubernetes.io/name": "web"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ target.replicas }}", 3),
        ("{{ target.replicas | times(2) | min(5) }}", 5),
        ("{{ target.replicas | plus(1) }}", 4),
        ("{{ target.missing | default(7) }}", 7),
        ("{{ container.memory_limit | times(2) }}", "512Mi"),
        ("{{ container.memory_limit | times(1.5) }}", "384Mi"),
        ("{{ container.cpu_limit | times(1.5) }}", "1500m"),
        ("{{ container.cpu_request | times(2) }}", "500m"),
        ("{{ incident.started_at }}", datetime(2026, 11, 28, 4, 50, tzinfo=UTC)),
        ("web-{{ target.name }}-{{ target.replicas }}", "web-web-3"),
        ("{{ labels.app.kubernetes.io/name }}", "web"),
    ],
)
def test_templates_render_typed_values(template: str, expected: Any) -> None:
    assert render(template, CONTEXT) == expected


def test_templates_render_nested_params() -> None:
    assert render({"a": ["{{ target.name }}", 1], "b": {"c": "{{ target.replicas }}"}}, CONTEXT) == {
        "a": ["web", 1],
        "b": {"c": 3},
    }


@pytest.mark.parametrize(
    "template",
    ["{{ __import__('os') }}", "{{ target.name.__class__ }}x{{ os.system }}", "{{ target.replicas | eval(1) }}"],
)
def test_templates_refuse_anything_but_paths_and_known_filters(template: str) -> None:
    with pytest.raises(TemplateError):
        check(template)


def test_missing_value_is_a_template_error_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"target\.missing is not known"):
        render("{{ target.missing }}", CONTEXT)


def planned(rule: Rule) -> Escalation:
    alert = {
        "labels": {"alertname": "WebSlow", "namespace": "prod", "deployment": "web"},
        "startsAt": "2026-11-28T04:50:00Z",
        "fingerprint": "fp",
        "status": {"state": "active"},
    }
    incident = Intake().ingest_poll([alert], now=NOW).new[0]
    result = RunbookPlanner(FakeCluster(deployment("web")), Runbook(rules=[rule])).plan(incident, now=NOW)
    assert isinstance(result.decision, Escalation), result.decision
    return result.decision


def test_action_outside_the_registry_becomes_an_escalation_not_an_exception() -> None:
    rule = Rule.model_construct(**{**dict(parse_runbook(runbook()).rules[0]), "action": "delete_namespace"})
    rule = rule.model_copy(update={"match": rule.match.model_copy(update={"labels": {}, "labels_regex": {}})})
    assert "unknown action 'delete_namespace'" in planned(rule).reason


def test_params_outside_the_actions_bounds_become_an_escalation() -> None:
    rule = parse_runbook(runbook("-4")).rules[0]
    rule = rule.model_copy(update={"match": rule.match.model_copy(update={"labels": {}, "labels_regex": {}})})
    reason = planned(rule).reason
    assert "params rejected by scale_workload" in reason and "replicas" in reason
