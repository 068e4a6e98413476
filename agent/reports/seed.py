"""Write a generated history (`risk.simulated_history`) into a store as the pipeline would have.

For tests and demonstrations of `scutum report` on months of history: every row is written
through the store's own repositories at the moment the generator says it happened, so the
labels `agent.reports.labels` derives must equal the labels the generator chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from actions.base import ActionName
from agent.audit import AuditKind, AuditLog
from agent.owner_watch import record_reverted
from agent.store import IncidentStatus, Store
from approvals.model import ApprovalRequest, ApprovalState, Target, Vote, VoteChannel, VoteDecision
from risk.track import Call, Ending, HumanCall, PastDecision

OWNER = "seed"
TARGET_KIND = {"drain_node": "Node", "evict_pod": "Pod", "restore_configmap": "ConfigMap", "restore_service": "Service"}


@dataclass
class SeedClock:
    """A clock the seeder moves; pass `clock.now` to `Store.connect`."""

    at: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The current seeded moment."""
        return self.at


def seed(store: Store, clock: SeedClock, decisions: list[PastDecision]) -> None:
    """Write every decision, oldest first, with what followed it."""
    audit = AuditLog(store.audit, clock=clock.now)
    for decision in decisions:
        _write(store, audit, clock, decision)


def _write(store: Store, audit: AuditLog, clock: SeedClock, d: PastDecision) -> None:
    clock.at = d.at
    store.incidents.open(
        f"fp-{d.incident_id}",
        alerts=[],
        started_at=d.at,
        alert_name=d.alert_name,
        namespace=d.namespace,
        incident_id=d.incident_id,
    )
    if d.action is None or d.verdict == "deny":
        audit.append(
            AuditKind.ESCALATION,
            actor="scutum",
            incident_id=d.incident_id,
            payload={"reason": d.escalation_reason or "denied by policy"},
        )
    if d.action is not None:
        _proposal(store, audit, clock, d)
    store.incidents.transition(d.incident_id, IncidentStatus.ESCALATED if d.action is None else IncidentStatus.HANDLING)
    if d.action is not None:  # a HANDLING incident leaves only through its action's end
        verified = d.ending in (Ending.VERIFIED, Ending.UNDONE, Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER)
        store.incidents.transition(d.incident_id, IncidentStatus.VERIFIED if verified else IncidentStatus.ESCALATED)
    if d.resolved_after_seconds is not None:
        clock.at = d.at + timedelta(seconds=d.resolved_after_seconds)
        if store.incidents.get(d.incident_id).status is not IncidentStatus.VERIFIED:  # type: ignore[union-attr]
            store.incidents.transition(d.incident_id, IncidentStatus.RESOLVED)


def _kind(action: str) -> str:
    return TARGET_KIND.get(action, "Deployment")


def _proposal(store: Store, audit: AuditLog, clock: SeedClock, d: PastDecision) -> None:
    assert d.action is not None and d.risk is not None
    kind, name = _kind(d.action), f"app-{d.incident_id}"
    proposal = store.incidents.add_proposal(
        d.incident_id,
        action=d.action,
        params={},
        target_kind=kind,
        target_name=name,
        target_namespace=None if kind == "Node" else d.namespace,
        claims={f"claim_{i}": True for i in range(d.claims_made)},
        planner=d.planner,
    )
    findings = [f"planner claimed claim_{i}=True, probes saw False" for i in range(d.claims_disputed)]
    components = {
        k: {"score": v, "reasons": findings if k == "state_validity" else []} for k, v in d.components.items()
    }
    relation = "<=" if d.verdict == "execute" else ">"
    rules = [f"score {d.risk:.2f} {relation} execute_max {d.execute_max or 0.3:.2f} (default thresholds): x"]
    store.incidents.add_decision(
        proposal.id, verdict=d.verdict, risk_total=d.risk, components=components, rules=rules, shadow=d.shadow
    )
    target = Target(kind=kind, name=name, namespace=None if kind == "Node" else d.namespace)
    if d.people_acted:
        _snapshot(store, target, "by-hand", d.at + timedelta(minutes=20))
    if d.human is not None:
        _request(store, d, d.human, target, requested_by=None)
    if d.executed:
        _run(store, audit, clock, d, run_of=(proposal.id, target))


def _request(
    store: Store,
    d: PastDecision,
    human: HumanCall,
    target: Target,
    *,
    requested_by: str | None,
    at: datetime | None = None,
) -> None:
    created = at or d.at
    seconds = human.seconds or 0.0
    decision = VoteDecision.REJECT if human.call is Call.REJECTED else VoteDecision.APPROVE
    votes = tuple(
        Vote(approver=who, decision=decision, at=created + timedelta(seconds=seconds), channel=VoteChannel.CLI)
        for who in human.by
    )
    state = {
        Call.APPROVED: ApprovalState.SUCCEEDED,
        Call.REJECTED: ApprovalState.REJECTED,
        Call.EXPIRED: ApprovalState.EXPIRED,
        Call.PENDING: ApprovalState.PENDING,
    }[human.call]
    deadline = created + timedelta(seconds=seconds if human.call is Call.EXPIRED else 4 * 3600)
    store.approvals.create(
        ApprovalRequest(
            id=f"req-{d.incident_id}-{requested_by or 'scutum'}",
            incident_id=d.incident_id,
            incident_summary=d.alert_name,
            action=ActionName(d.action or ""),
            params={},
            target=target,
            risk={"score": d.risk or 0.0, "components": {}},
            threshold=d.execute_max or 0.3,
            required_approvals=1,
            requested_by=requested_by,
            created_at=created,
            deadline=deadline,
            state=state,
            votes=votes,
        )
    )


def _run(store: Store, audit: AuditLog, clock: SeedClock, d: PastDecision, *, run_of: tuple[str, Target]) -> None:
    proposal_id, target = run_of
    seconds = d.human.seconds or 0.0 if d.human else 0.0
    clock.at = d.at + timedelta(seconds=seconds + 1)
    run = store.executions.create(
        action=d.action or "",
        params={},
        target_kind=target.kind,
        target_name=target.name,
        target_namespace=target.namespace,
        proposal_id=proposal_id,
        incident_id=d.incident_id,
    )
    store.executions.claim_execution(run.id, OWNER)
    store.executions.mark_running(run.id, OWNER)
    _snapshot(store, target, "ours", clock.at + timedelta(seconds=5))
    clock.at += timedelta(seconds=60)
    store.executions.finish(run.id, OWNER, succeeded=d.ending is not Ending.FAILED, outcome={})
    if d.ending in (Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER):
        _snapshot(store, target, "theirs", clock.at + timedelta(minutes=10))
    if d.ending is Ending.REVERTED_BY_OWNER:  # what the owner watch writes when it sees the revert
        clock.at += timedelta(minutes=10)
        finished = store.executions.get(run.id)
        assert finished is not None
        record_reverted(audit, finished, actor=OWNER, owner="Argo CD Application seeded", detail="image put back")
    if d.ending is Ending.UNDONE:
        undo = HumanCall(Call.APPROVED, by=("oncall-undo",), seconds=30.0)
        _request(store, d, undo, target, requested_by="oncall-asker", at=clock.at + timedelta(minutes=5))


def _snapshot(store: Store, target: Target, version: str, at: datetime) -> None:
    obj = {
        "kind": target.kind,
        "metadata": {"name": target.name, "namespace": target.namespace, "resourceVersion": version},
        "spec": {"v": version},
    }
    store.snapshots.record(obj, observed_at=at)
