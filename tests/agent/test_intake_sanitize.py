"""Untrusted alert text is cleaned and capped on arrival, on both wire formats, and a NUL in a
label never breaks an incident on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.intake import Intake, parse_gettable_alerts, parse_webhook
from agent.intake.alerts import _WEBHOOK_ALERT, _from_webhook, apply_filters
from agent.pipeline import alert_json
from agent.store import Store

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def webhook_alert(**labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "deployment": "cart", **labels},
        "annotations": {"description": "line one\nline two\x00" + "d" * 1_000_000},
        "startsAt": "2026-11-28T04:50:00Z",
        "fingerprint": "f\x00" + "p" * 500,
    }


def webhook(*alerts: dict[str, Any]) -> bytes:
    body = {"version": "4", "groupKey": "g", "status": "firing", "receiver": "scutum", "alerts": list(alerts)}
    return json.dumps(body).encode()


def test_webhook_labels_and_annotations_are_cleaned_and_capped() -> None:
    batch = parse_webhook(webhook(webhook_alert(pod="cart-1\x00\u202e", big="x" * 1_000_000)))

    [alert] = batch.alerts
    assert alert.labels["pod"] == "cart-1"
    assert len(alert.labels["big"]) == 1024
    assert alert.annotations["description"].startswith("line one\nline two")
    assert len(alert.annotations["description"]) == 4096
    assert "\x00" not in alert.fingerprint and len(alert.fingerprint) <= 128
    assert len(json.dumps(alert_json(alert))) < 10_000  # a 1 MB label cannot become megabytes of audit


def test_polled_alerts_are_cleaned_the_same_way() -> None:
    raw = {
        "labels": {"alertname": "Kube\x00Down\u2067", "severity": "critical"},
        "startsAt": "2026-11-28T04:50:00Z",
        "fingerprint": "abc",
        "status": {"state": "active"},
    }
    [alert] = parse_gettable_alerts([raw]).alerts
    assert alert.name == "KubeDown"


def test_an_alertname_that_is_only_control_characters_is_rejected() -> None:
    batch = parse_webhook(webhook(webhook_alert(alertname="\x00\u202e")))
    assert batch.alerts == [] and "alertname" in batch.rejected[0].reason


def test_label_filters_apply_to_pushed_alerts() -> None:
    batch = parse_webhook(webhook(webhook_alert(cluster="prod"), webhook_alert(cluster="staging", pod="x")))
    kept = apply_filters(batch, {"cluster": "prod"})
    assert [a.labels["cluster"] for a in kept.alerts] == ["prod"] and kept.filtered == 1


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    store = Store.connect(postgres_url)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


@pytest.mark.postgres
def test_a_nul_in_a_label_does_not_break_the_incident_on_postgresql(pg_store: Store) -> None:
    intake = Intake()
    first = intake.ingest_webhook(webhook(webhook_alert(pod="cart-1\x00")), now=NOW)
    [incident] = first.new
    alert = incident.primary
    pg_store.incidents.open(
        alert.fingerprint,
        incident_id=incident.id,
        alerts=[alert_json(a) for a in incident.alerts.values()],
        started_at=incident.started_at,
        alert_name=alert.name,
        namespace="shop",
    )
    stored = pg_store.incidents.get(incident.id)
    assert stored is not None

    genuine = intake.ingest_webhook(webhook({**webhook_alert(), "fingerprint": "genuine"}), now=NOW)
    assert genuine.new == [] and genuine.updated == [incident]  # it joins an incident that exists


_text = st.text(max_size=12) | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    labels=st.dictionaries(_text, _text, max_size=6),
    notes=st.dictionaries(_text, _text | st.just("line one\nline two\ttab"), max_size=3),
    fingerprint=_text,
)
def test_every_path_through_parse_webhook_gives_the_cleaned_alert(
    labels: dict[str, str], notes: dict[str, str], fingerprint: str
) -> None:
    # Clean text takes the validation-time path, anything else the lenient one and cleaning;
    # either way the alert is what validating it alone and cleaning it gives.
    raw = {
        "status": "firing",
        "labels": {**labels, "alertname": "KubePodCrashLooping"},
        "annotations": notes,
        "startsAt": "2026-11-28T04:50:00Z",
        "fingerprint": fingerprint,
    }
    expected = _from_webhook(_WEBHOOK_ALERT.validate_python(raw))
    [alert] = parse_webhook(webhook(raw)).alerts
    [without_clean] = parse_webhook(webhook(raw), try_clean=False).alerts
    assert alert == without_clean == expected
