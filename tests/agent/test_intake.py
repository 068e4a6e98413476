"""Intake: both Alertmanager formats, rejection of malformed alerts, dedup, grouping, closing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.intake import (
    UNDESCRIBED,
    AlertSource,
    CloseReason,
    IgnoreReason,
    Intake,
    IntakeLimits,
    parse_gettable_alerts,
    parse_webhook,
)
from agent.intake.alerts import DESCRIBED_REJECTIONS

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def gettable(name: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {},
        "startsAt": "2026-11-28T04:50:00Z",
        "endsAt": "2026-11-28T05:10:00Z",
        "updatedAt": "2026-11-28T05:00:00Z",
        "fingerprint": fingerprint,
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
        "generatorURL": "",
    }


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "scutum", "alerts": list(alerts)}


def webhook_alert(name: str, fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {},
        "startsAt": "2026-11-28T04:50:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def test_gettable_alerts_parse_into_normalized_alerts() -> None:
    batch = parse_gettable_alerts(json.dumps(load("alerts_v2.json")))
    assert batch.rejected == []
    crash = batch.alerts[0]
    assert crash.name == "KubePodCrashLooping"
    assert crash.fingerprint == "1a2b3c4d5e6f7081"
    assert crash.starts_at == datetime(2026, 11, 28, 4, 45, tzinfo=UTC)
    assert crash.source is AlertSource.POLL
    assert crash.is_active(NOW)
    silenced = batch.alerts[4]
    assert silenced.suppressed


def test_webhook_payload_parses_firing_and_resolved_alerts() -> None:
    batch = parse_webhook(json.dumps(load("webhook_v4.json")).encode())
    assert batch.rejected == []
    firing, resolved = batch.alerts
    assert firing.firing and firing.ends_at is None
    assert not resolved.firing
    assert resolved.ends_at == datetime(2026, 11, 28, 4, 40, tzinfo=UTC)


def test_webhook_alert_without_fingerprint_gets_a_stable_one_from_its_labels() -> None:
    raw = webhook_alert("KubePodNotReady", "", namespace="prod", pod="a")
    first = parse_webhook(webhook(raw)).alerts[0]
    again = parse_webhook(webhook(copy.deepcopy(raw))).alerts[0]
    assert first.fingerprint and first.fingerprint == again.fingerprint


def test_malformed_alerts_are_rejected_while_the_rest_of_the_batch_goes_through() -> None:
    good = gettable("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    no_name = gettable("x", "bbb")
    del no_name["labels"]["alertname"]
    bad_time = gettable("KubePodNotReady", "ccc", namespace="prod", pod="web-2")
    bad_time["startsAt"] = "yesterday"
    result = Intake().ingest_poll([no_name, "not an alert", bad_time, good], now=NOW)
    assert [i.primary.fingerprint for i in result.new] == ["aaa"]
    assert len(result.rejected) == 3
    reasons = " | ".join(r.reason for r in result.rejected)
    assert "alertname" in reasons and "startsAt" in reasons
    assert "bbb" in result.rejected[0].excerpt


def test_unparseable_payloads_become_one_rejection_not_a_crash() -> None:
    assert parse_gettable_alerts(b"{not json").rejected[0].reason.startswith("not JSON")
    assert "expected a list" in parse_gettable_alerts({"alerts": []}).rejected[0].reason
    assert "version" in parse_webhook({**webhook(), "version": "3"}).rejected[0].reason
    assert "groupKey" in parse_webhook({"version": "4", "alerts": []}).rejected[0].reason


def test_a_webhook_of_empty_objects_describes_the_first_rejections_and_counts_the_rest() -> None:
    good = webhook_alert("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    body = json.dumps(webhook(*[{}] * 5_000, good, {"labels": {"alertname": "Last"}})).encode()

    batch = parse_webhook(body)

    assert [a.fingerprint for a in batch.alerts] == ["aaa"] and batch.malformed is None
    assert len(batch.rejected) == 5_001
    assert all(r.reason != UNDESCRIBED and r.excerpt == "{}" for r in batch.rejected[:DESCRIBED_REJECTIONS])
    assert {(r.reason, r.excerpt) for r in batch.rejected[DESCRIBED_REJECTIONS:]} == {(UNDESCRIBED, "")}


def test_same_fingerprint_twice_is_one_incident() -> None:
    intake = Intake()
    alert = gettable("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    first = intake.ingest_poll([alert], now=NOW)
    second = intake.ingest_poll([alert], now=NOW + timedelta(seconds=30))
    assert len(first.new) == 1
    assert second.new == [] and second.updated == []
    assert intake.sizes()["open"] == 1


def test_alerts_for_the_same_target_group_into_one_incident() -> None:
    intake = Intake()
    result = intake.ingest_poll(
        [
            gettable("KubeDeploymentReplicasMismatch", "aaa", namespace="prod", deployment="web"),
            gettable("KubeDeploymentRolloutStuck", "bbb", namespace="prod", deployment="web"),
            gettable("KubeDeploymentRolloutStuck", "ccc", namespace="staging", deployment="web"),
        ],
        now=NOW,
    )
    assert len(result.new) == 2
    prod = next(i for i in result.new if i.group_key == "Deployment/prod/web")
    assert prod.alert_names == ("KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck")


def test_alerts_naming_no_object_group_by_their_own_fingerprint() -> None:
    result = Intake().ingest_poll([gettable("HighErrorRate", "aaa"), gettable("HighErrorRate", "bbb")], now=NOW)
    assert sorted(i.group_key for i in result.new) == ["alert/aaa", "alert/bbb"]


def test_exporter_labels_do_not_become_the_grouping_target() -> None:
    result = Intake().ingest_poll(load("alerts_v2.json"), now=NOW)
    keys = sorted(i.group_key for i in result.new)
    assert keys == ["Deployment/prod/web", "Node/node-2", "Pod/prod/web-7d9c8b6f5-x2k9p"]


def test_heartbeat_info_and_silenced_alerts_are_ignored_never_opened() -> None:
    intake = Intake()
    info = gettable("CPUThrottlingHigh", "iii", namespace="prod", pod="a")
    info["labels"]["severity"] = "info"
    inhibited = gettable("KubePodNotReady", "jjj", namespace="prod", pod="b")
    inhibited["status"] = {"state": "suppressed", "silencedBy": [], "inhibitedBy": ["x"]}
    result = intake.ingest_poll([*load("alerts_v2.json"), info, inhibited], now=NOW)
    reasons = {i.alert.name: i.reason for i in result.ignored}
    assert reasons == {
        "Watchdog": IgnoreReason.HEARTBEAT,
        "CPUThrottlingHigh": IgnoreReason.INFORMATIONAL,
        "KubePodNotReady": IgnoreReason.SUPPRESSED,
    }
    assert len(result.new) == 3


def test_resolved_webhook_alert_for_unknown_incident_is_ignored() -> None:
    result = Intake().ingest_webhook(load("webhook_v4.json"), now=NOW)
    assert len(result.new) == 1
    assert [(i.alert.fingerprint, i.reason) for i in result.ignored] == [("6f70819203142536", IgnoreReason.RESOLVED)]


def test_incident_closes_when_all_its_alerts_resolve_in_the_webhook() -> None:
    intake = Intake()
    a = webhook_alert("KubeDeploymentReplicasMismatch", "aaa", namespace="prod", deployment="web")
    b = webhook_alert("KubeDeploymentRolloutStuck", "bbb", namespace="prod", deployment="web")
    opened = intake.ingest_webhook(webhook(a, b), now=NOW).new[0]
    half = intake.ingest_webhook(webhook({**a, "status": "resolved"}), now=NOW)
    assert half.resolved == [] and intake.get(opened.id) is opened
    done = intake.ingest_webhook(webhook({**b, "status": "resolved"}), now=NOW + timedelta(minutes=1))
    assert done.resolved == [opened]
    assert opened.close_reason is CloseReason.RESOLVED
    assert intake.sizes()["open"] == 0 and intake.get(opened.id) is opened


def test_alert_absent_from_a_complete_poll_has_resolved() -> None:
    intake = Intake()
    web = gettable("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    db = gettable("KubePodCrashLooping", "bbb", namespace="prod", pod="db-0")
    intake.ingest_poll([web, db], now=NOW)
    result = intake.ingest_poll([db], now=NOW + timedelta(minutes=1))
    assert [i.group_key for i in result.resolved] == ["Pod/prod/web-1"]
    assert [i.group_key for i in intake.open_incidents()] == ["Pod/prod/db-0"]


def test_webhook_batches_do_not_resolve_alerts_they_omit() -> None:
    intake = Intake()
    intake.ingest_webhook(webhook(webhook_alert("KubePodNotReady", "aaa", namespace="prod", pod="a")), now=NOW)
    result = intake.ingest_webhook(webhook(webhook_alert("KubePodNotReady", "bbb", namespace="prod", pod="b")), now=NOW)
    assert result.resolved == [] and intake.sizes()["open"] == 2


def test_verified_incident_closes_and_its_alerts_settle_before_reopening() -> None:
    intake = Intake(IntakeLimits(settle_seconds=300))
    alert = gettable("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    incident = intake.ingest_poll([alert], now=NOW).new[0]
    assert intake.mark_verified(incident.id, now=NOW) is incident
    assert incident.close_reason is CloseReason.VERIFIED
    settling = intake.ingest_poll([alert], now=NOW + timedelta(minutes=2))
    assert settling.new == [] and settling.ignored[0].reason is IgnoreReason.SETTLING
    still_firing = intake.ingest_poll([alert], now=NOW + timedelta(minutes=6))
    assert len(still_firing.new) == 1 and still_firing.new[0].id == incident.id
    assert intake.mark_verified("inc-unknown", now=NOW) is None


def test_incident_started_at_is_the_earliest_alert_start() -> None:
    intake = Intake()
    late = gettable("KubeDeploymentRolloutStuck", "aaa", namespace="prod", deployment="web")
    early = gettable("KubeDeploymentReplicasMismatch", "bbb", namespace="prod", deployment="web")
    early["startsAt"] = "2026-11-28T04:30:00Z"
    incident = intake.ingest_poll([late], now=NOW).new[0]
    intake.ingest_poll([late, early], now=NOW)
    assert incident.started_at == datetime(2026, 11, 28, 4, 30, tzinfo=UTC)


def test_polled_alert_past_its_end_time_counts_as_resolved() -> None:
    stale = gettable("KubePodCrashLooping", "aaa", namespace="prod", pod="web-1")
    stale["endsAt"] = "2026-11-28T04:55:00Z"
    result = Intake().ingest_poll([stale], now=NOW)
    assert result.new == [] and result.ignored[0].reason is IgnoreReason.RESOLVED
