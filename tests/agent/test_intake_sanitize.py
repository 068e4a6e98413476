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

from actions.untrusted import plain_json_text
from agent.intake import Intake, parse_gettable_alerts, parse_webhook
from agent.intake.alerts import _WEBHOOK_ALERT, _from_webhook, _parse_plain_webhook, apply_filters, parse_clean_webhook
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


# --- the plain path (msgspec) against pydantic's -----------------------------------------

_printable = st.characters(min_codepoint=32, max_codepoint=126)
_any_char = st.characters(codec="utf-8") | st.sampled_from("\x00\x7f\n\t\u202e\u0085")


def _around(cap: int) -> st.SearchStrategy[str]:
    """Text short (mostly), or just under, at or over `cap`: where two parsers could differ."""
    short = st.text(_printable, max_size=8)
    near = st.integers(cap - 1, cap + 1).flatmap(lambda n: st.text(_printable, min_size=n, max_size=n))
    return st.one_of(short, short, short, short, short, near)


_GOOD_MOMENTS = ["2026-11-28T04:50:00Z", "2026-11-28T04:50:00.123456789Z", "2026-11-28T04:50:00.9999999Z"]
"""Alertmanager's nanoseconds among them: pydantic cuts them, and so must every path."""
_ODD_MOMENTS = [
    "2026-11-28T04:50:00.5+05:30",
    "2026-11-28t04:50:00z",
    "2026-11-28 04:50:00Z",
    "2026-11-28T04:50:00",
    "2026-11-28T04:50Z",
    "2026-11-28",
    "0001-01-01T00:00:00Z",
    "2026-11-28T04:50:60Z",
    "not a time",
]
_moments = st.sampled_from(_GOOD_MOMENTS) | st.sampled_from(_ODD_MOMENTS) | st.integers(-(10**10), 10**10)


def _mostly(draw: st.DrawFn, usual: Any, odd: st.SearchStrategy[Any]) -> Any:
    """`usual` seven times in eight, else something from `odd`: most bodies are well formed, so
    the plain path is taken often, and each field is sometimes what could split the parsers."""
    return draw(odd) if draw(st.integers(0, 7)) == 3 else usual


@st.composite
def _webhook_bodies(draw: st.DrawFn) -> bytes:
    alerts = []
    for _ in range(draw(st.integers(0, 3))):
        labels = draw(st.dictionaries(_around(128), _around(1024), max_size=3))
        labels |= _mostly(draw, {}, st.dictionaries(st.text(_any_char, max_size=4), st.text(_any_char, max_size=4)))
        labels = _mostly(draw, {}, st.integers(62, 65).map(lambda n: {f"l{i}": "v" for i in range(n)})) | labels
        labels["alertname"] = _mostly(draw, "KubePodCrashLooping", st.sampled_from(["", 'say "hi"', "back\\slash/"]))
        alert: dict[str, Any] = {
            "status": _mostly(draw, "firing", st.sampled_from(["resolved", "pending"])),
            "labels": labels,
            "annotations": draw(st.dictionaries(_around(128), _around(4096), max_size=2))
            | _mostly(draw, {}, st.just({"description": "line\none"})),
            _mostly(draw, "startsAt", st.just("starts_at")): _mostly(
                draw, draw(st.sampled_from(_GOOD_MOMENTS)), _moments
            ),
            "fingerprint": draw(_around(128) | st.just("")),
        }
        if draw(st.booleans()):
            alert["endsAt"] = _mostly(draw, "0001-01-01T00:00:00Z", _moments | st.none())
        if draw(st.booleans()):
            alert["generatorURL"] = draw(_around(2048))
        alerts.append(alert)
    body: dict[str, Any] = {
        "version": _mostly(draw, "4", st.just("3")),
        "status": _mostly(draw, "firing", st.just("resolved")),
        "alerts": alerts,
        "extra": {"nested": [1, {"x": None}]},
        "truncatedAlerts": _mostly(draw, 0, st.sampled_from([3, "3", 2.0, None])),
    }
    if _mostly(draw, True, st.just(False)):
        body["groupKey"] = '{}:{alertname="X"}'
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_webhook_bodies())
def test_the_plain_path_takes_exactly_what_the_pydantic_paths_take(body: bytes) -> None:
    # Whatever the body, the answer is the lenient pydantic path's: the same alerts (times,
    # caps, escapes and all), the same rejections, the same verdict on the whole.
    plain = _parse_plain_webhook(body) if plain_json_text(body) else None
    clean = parse_clean_webhook(body)
    lenient = parse_webhook(body, try_clean=False)
    if plain is not None:
        assert plain.alerts == clean.alerts if clean is not None else plain.alerts == lenient.alerts
        assert not lenient.rejected and lenient.malformed is None
    assert parse_webhook(body).alerts == lenient.alerts


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_any_char, max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_any_char, max_size=4), inner, max_size=3),
    max_leaves=8,
)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


@settings(max_examples=400, deadline=None)
@given(value=_json_values, ascii_only=st.booleans())
def test_plain_json_text_vouches_only_for_printable_ascii(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).replace("/", "\\/")
    if plain_json_text(text.encode()):
        assert all(s.isascii() and s.isprintable() for s in _strings(json.loads(text)))
    if all(s.isascii() and s.isprintable() for s in _strings(value)):
        assert plain_json_text(text.encode()), "printable ASCII escapes only as quotes, backslashes, slashes"
