"""Store round trips, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.audit import AuditKind, AuditLog
from agent.owner_watch import record_reverted
from agent.store import ExecutionState, IncidentStatus, Store
from tests.agent.conftest import FakeClock


def _deployment(name: str, version: str, image: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": version},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    }


def test_incident_round_trip_keeps_alerts_and_timestamps(store: Store, clock: FakeClock) -> None:
    alerts = [{"labels": {"alertname": "KubePodCrashLooping", "namespace": "shop"}, "value": 1.5}]
    incident = store.incidents.open(
        "fp-1", alerts=alerts, started_at=clock.now, alert_name="KubePodCrashLooping", namespace="shop"
    )

    loaded = store.incidents.get(incident.id)

    assert loaded == incident
    assert loaded.alerts == tuple(alerts)
    assert loaded.started_at == clock.now
    assert loaded.status is IncidentStatus.OPEN


def test_active_incident_found_by_fingerprint_until_resolved(store: Store, clock: FakeClock) -> None:
    incident = store.incidents.open("fp-2", alerts=[], started_at=clock.now, namespace="shop")
    assert store.incidents.active_by_fingerprint("fp-2") == incident
    assert [i.id for i in store.incidents.active("shop")] == [incident.id]

    clock.advance(60)
    store.incidents.transition(incident.id, IncidentStatus.RESOLVED)

    assert store.incidents.active_by_fingerprint("fp-2") is None
    resolved = store.incidents.get(incident.id)
    assert resolved is not None
    assert resolved.resolved_at == clock.now


def test_proposal_and_decision_keep_params_and_risk_decomposition(store: Store, clock: FakeClock) -> None:
    incident = store.incidents.open("fp-3", alerts=[], started_at=clock.now)
    proposal = store.incidents.add_proposal(
        incident.id,
        action="scale_workload",
        params={"namespace": "shop", "name": "web", "replicas": 4},
        target_kind="Deployment",
        target_name="web",
        target_namespace="shop",
        claims={"ready_replicas": 2},
        planner="runbook",
    )
    components = {"blast_radius": {"score": 0.25, "reasons": ["1 of 4 replicas"]}}
    decision = store.incidents.add_decision(
        proposal.id, verdict="approve", risk_total=0.42, components=components, rules=["threshold.approve"]
    )

    assert store.incidents.proposals(incident.id) == [proposal]
    assert store.incidents.decisions(proposal.id) == [decision]
    assert decision.components == components
    assert decision.rules == ("threshold.approve",)


def test_execution_lifecycle_only_the_claimer_may_finish(store: Store) -> None:
    execution = store.executions.create(
        action="restart_workload", params={"name": "web"}, target_kind="Deployment", target_name="web"
    )
    assert store.executions.pending() == [execution]

    assert store.executions.claim_execution(execution.id, "replica-a") is True
    assert store.executions.claim_execution(execution.id, "replica-b") is False
    with pytest.raises(ValueError, match="not held by replica-b"):
        store.executions.mark_running(execution.id, "replica-b")
    store.executions.mark_running(execution.id, "replica-a")
    assert [e.id for e in store.executions.unfinished()] == [execution.id]
    store.executions.finish(execution.id, "replica-a", succeeded=True, outcome={"changed": True})

    done = store.executions.get(execution.id)
    assert done is not None
    assert done.state is ExecutionState.SUCCEEDED
    assert done.claimed_by == "replica-a"
    assert done.outcome == {"changed": True}
    assert store.executions.unfinished() == []


def test_recent_executions_filter_by_time_and_target(store: Store, clock: FakeClock) -> None:
    store.executions.create(
        action="evict_pod", params={}, target_kind="Pod", target_name="old", target_namespace="shop"
    )
    clock.advance(600)
    since = clock.now
    store.executions.create(
        action="restart_workload", params={}, target_kind="Deployment", target_name="web", target_namespace="shop"
    )
    store.executions.create(
        action="restart_workload", params={}, target_kind="Deployment", target_name="web", target_namespace="blog"
    )

    assert len(store.executions.recent(since)) == 2
    assert [e.target_namespace for e in store.executions.recent(since, namespace="shop")] == ["shop"]
    assert store.executions.recent(since, target_kind="Pod") == []


def test_snapshot_version_before_returns_newest_older_version(store: Store, clock: FakeClock) -> None:
    first = clock.now
    assert store.snapshots.record(_deployment("web", "1", "web:1"), observed_at=first)
    assert not store.snapshots.record(_deployment("web", "1", "web:1"), observed_at=first + timedelta(seconds=5))
    assert store.snapshots.record(_deployment("web", "2", "web:2"), observed_at=first + timedelta(minutes=10))

    before_second = store.snapshots.version_before("Deployment", "shop", "web", first + timedelta(minutes=10))
    assert before_second is not None
    assert before_second["metadata"]["resourceVersion"] == "1"
    latest = store.snapshots.version_before("Deployment", "shop", "web", first + timedelta(hours=1))
    assert latest is not None
    assert latest["metadata"]["resourceVersion"] == "2"
    assert store.snapshots.version_before("Deployment", "shop", "web", first) is None
    assert store.snapshots.version_before("Deployment", "shop", "other", first + timedelta(hours=1)) is None


def test_snapshots_refuse_secrets(store: Store, clock: FakeClock) -> None:
    secret = {"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {"password": "aGk="}}
    with pytest.raises(ValueError, match="Secrets"):
        store.snapshots.record(secret, observed_at=clock.now)
    assert store.snapshots.count() == 0


def test_snapshot_retention_keeps_newest_per_object(store: Store, clock: FakeClock) -> None:
    start = clock.now
    for version in range(1, 6):
        store.snapshots.record(_deployment("web", str(version), f"web:{version}"), observed_at=start)
        start += timedelta(hours=1)
    store.snapshots.record(_deployment("api", "9", "api:9"), observed_at=clock.now - timedelta(days=30))

    dropped = store.snapshots.prune(keep=3, max_age=timedelta(days=7), now=start)

    assert dropped == 2
    versions = [s.resource_version for s in store.snapshots.history("Deployment", "shop", "web")]
    assert versions == ["3", "4", "5"]
    assert len(store.snapshots.history("Deployment", "shop", "api")) == 1


def test_kill_switch_state_round_trips(store: Store, clock: FakeClock) -> None:
    assert store.control.get().paused is False

    store.control.set(paused=True, reason="bad deploy", changed_by="oncall", at=clock.now)

    state = store.control.get()
    assert state.paused is True
    assert (state.reason, state.changed_by, state.changed_at) == ("bad deploy", "oncall", clock.now)


def test_upgrade_is_idempotent(store: Store) -> None:
    store.upgrade()
    assert store.control.get().paused is False


def test_runs_reverted_by_their_owner_are_read_back_from_the_audit_records(store: Store, clock: FakeClock) -> None:
    """The one reader of the owner watch's records: by incident, and for runs with no incident."""
    incident = store.incidents.open("fp-owner", alerts=[], started_at=clock.now)
    runs = [
        store.executions.create(
            action="rollback_workload", params={}, target_kind="Deployment", target_name=name, incident_id=incident_id
        )
        for name, incident_id in (("web", incident.id), ("api", incident.id), ("db", None))
    ]
    audit = AuditLog(store.audit, clock=clock)
    record_reverted(audit, runs[0], actor="scutum", owner="Argo CD Application shop", detail="image put back")
    record_reverted(audit, runs[2], actor="scutum", owner="Flux Kustomization flux-system/db", detail="x")
    audit.append(AuditKind.VERIFICATION, actor="scutum", incident_id=incident.id, payload={"execution": runs[1].id})
    assert store.outcomes.reverted_by_owner([incident.id]) == {runs[0].id}
    assert store.outcomes.reverted_by_owner([incident.id, None]) == {runs[0].id, runs[2].id}
    assert store.outcomes.reverted_by_owner([]) == set()
    assert store.outcomes.since(None).reverted_by_owner == frozenset({runs[0].id})
