"""Read-only queries for the reports: decisions since a moment, with what followed them.

Nothing here writes; the reports derive every outcome label from rows other modules keep
(incidents, proposals, decisions, approval requests, executions, snapshots, audit records).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from agent.store.database import Database, utc, utc_or_none
from agent.store.records import (
    AuditRecord,
    DecisionRecord,
    Execution,
    ExecutionState,
    Incident,
    IncidentStatus,
    ProposalRecord,
)
from agent.store.tables import AuditRow, DecisionRow, ExecutionRow, IncidentRow, ProposalRow, SnapshotRow

CHUNK = 500
"""IDs per IN (...) clause: well below SQLite's and PostgreSQL's parameter limits."""


@dataclass(frozen=True)
class DecisionRows:
    """Incidents started in a period and every row recorded about them."""

    incidents: tuple[Incident, ...]
    proposals: tuple[ProposalRecord, ...]
    decisions: tuple[DecisionRecord, ...]
    executions: tuple[Execution, ...]
    escalations: tuple[AuditRecord, ...]
    """ESCALATION audit records of those incidents (they carry the reason)."""


class OutcomeRows:
    """The queries behind `scutum report`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def since(self, since: datetime | None) -> DecisionRows:
        """Every incident started at or after `since` (all when None) and its rows."""
        with self._db.session() as session:
            query = select(IncidentRow)
            if since is not None:
                query = query.where(col(IncidentRow.started_at) >= since)
            incidents = [_incident(r) for r in session.exec(query.order_by(col(IncidentRow.started_at)))]
            ids = [i.id for i in incidents]
            proposals: list[ProposalRecord] = []
            executions: list[Execution] = []
            escalations: list[AuditRecord] = []
            for chunk in _chunks(ids):
                of_chunk = select(ProposalRow).where(col(ProposalRow.incident_id).in_(chunk))
                proposals += [_proposal(r) for r in session.exec(of_chunk)]
                executions += [
                    _execution(r)
                    for r in session.exec(select(ExecutionRow).where(col(ExecutionRow.incident_id).in_(chunk)))
                ]
                escalations += [
                    _audit(r)
                    for r in session.exec(
                        select(AuditRow).where(AuditRow.kind == "escalation", col(AuditRow.incident_id).in_(chunk))
                    )
                ]
            decisions: list[DecisionRecord] = []
            for chunk in _chunks([p.id for p in proposals]):
                on_chunk = select(DecisionRow).where(col(DecisionRow.proposal_id).in_(chunk))
                decisions += [_decision(r) for r in session.exec(on_chunk)]
        return DecisionRows(
            incidents=tuple(incidents),
            proposals=tuple(sorted(proposals, key=lambda p: p.created_at)),
            decisions=tuple(sorted(decisions, key=lambda d: d.created_at)),
            executions=tuple(sorted(executions, key=lambda e: e.created_at)),
            escalations=tuple(sorted(escalations, key=lambda a: a.seq)),
        )

    def changes_after(
        self, *, kind: str, namespace: str | None, name: str, after: datetime, until: datetime
    ) -> list[datetime]:
        """When new versions of one object were observed in (after, until]: its changes."""
        query = (
            select(SnapshotRow.observed_at)
            .where(
                SnapshotRow.kind == kind,
                SnapshotRow.namespace == (namespace or ""),
                SnapshotRow.name == name,
                col(SnapshotRow.observed_at) > after,
                col(SnapshotRow.observed_at) <= until,
            )
            .order_by(col(SnapshotRow.observed_at))
        )
        with self._db.session() as session:
            return [utc(at) for at in session.exec(query)]

    def audit_of_kinds(self, kinds: Collection[str], since: datetime | None) -> list[AuditRecord]:
        """Audit records of these kinds at or after `since`, in chain order."""
        query = select(AuditRow).where(col(AuditRow.kind).in_(list(kinds)))
        if since is not None:
            query = query.where(col(AuditRow.ts) >= since)
        with self._db.session() as session:
            return [_audit(r) for r in session.exec(query.order_by(col(AuditRow.seq)))]


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


# Row -> record, kept here (not borrowed from the repositories that own these tables) so that a
# change to another repository's private helpers cannot break the reports.


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        fingerprint=row.fingerprint,
        status=IncidentStatus(row.status),
        started_at=utc(row.started_at),
        updated_at=utc(row.updated_at),
        group_key=row.group_key,
        alert_name=row.alert_name,
        namespace=row.namespace,
        resolved_at=utc_or_none(row.resolved_at),
    )


def _proposal(row: ProposalRow) -> ProposalRecord:
    return ProposalRecord(
        id=row.id,
        incident_id=row.incident_id,
        action=row.action,
        params=dict(row.params),
        target_kind=row.target_kind,
        target_name=row.target_name,
        target_namespace=row.target_namespace,
        claims=dict(row.claims),
        planner=row.planner,
        created_at=utc(row.created_at),
    )


def _decision(row: DecisionRow) -> DecisionRecord:
    return DecisionRecord(
        id=row.id,
        proposal_id=row.proposal_id,
        verdict=row.verdict,
        risk_total=row.risk_total,
        components=dict(row.components),
        rules=tuple(row.rules),
        shadow=row.shadow,
        created_at=utc(row.created_at),
    )


def _execution(row: ExecutionRow) -> Execution:
    return Execution(
        id=row.id,
        action=row.action,
        params=dict(row.params),
        target_kind=row.target_kind,
        target_name=row.target_name,
        target_namespace=row.target_namespace,
        state=ExecutionState(row.state),
        created_at=utc(row.created_at),
        proposal_id=row.proposal_id,
        incident_id=row.incident_id,
        claimed_at=utc_or_none(row.claimed_at),
        finished_at=utc_or_none(row.finished_at),
    )


def _audit(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        ts=utc(row.ts),
        kind=row.kind,
        actor=row.actor,
        incident_id=row.incident_id,
        payload=dict(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
