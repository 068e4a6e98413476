"""Read-only queries for the reports: decisions since a moment, with what followed them.

Nothing here writes; the reports derive every outcome label from rows other modules keep
(incidents, proposals, decisions, approval requests, executions, snapshots, audit records).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.audit_rows import _record as _audit
from agent.store.database import Database, utc
from agent.store.executions import _execution
from agent.store.incidents import _decision, _incident, _proposal
from agent.store.records import (
    AuditRecord,
    DecisionRecord,
    Execution,
    Incident,
    ProposalRecord,
)
from agent.store.tables import AuditRow, DecisionRow, ExecutionRow, IncidentRow, ProposalRow, SnapshotRow
from risk.track import Ending

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
    reverted_by_owner: frozenset[str] = frozenset()
    """Executions of those incidents whose fix the target's owner reverted (the owner watch's records)."""


class OutcomeRows:
    """The queries behind `scutum report`."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def since(self, since: datetime | None) -> DecisionRows:
        """Every incident started at or after `since` (all when None) and its rows."""
        with self._db.session() as session:
            query = select(IncidentRow).where(IncidentRow.cluster == self._cluster)
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
                        select(AuditRow).where(
                            AuditRow.cluster == self._cluster,
                            AuditRow.kind == "escalation",
                            col(AuditRow.incident_id).in_(chunk),
                        )
                    )
                ]
            reverted = _reverted_by_owner(session, self._cluster, ids)
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
            reverted_by_owner=frozenset(reverted),
        )

    def reverted_by_owner(self, incident_ids: Collection[str | None]) -> set[str]:
        """Of these incidents' executions, the ones recorded as reverted by the target's owner
        (None stands for runs attached to no incident).

        The owner watch writes one VERIFICATION audit record per reverted run (outcome
        `reverted-by-owner`, naming the execution); this is the one reader of those records,
        for the reports' labels and for the watch itself (what it has already reported)."""
        with self._db.session() as session:
            found = _reverted_by_owner(session, self._cluster, [i for i in incident_ids if i is not None])
            if None in incident_ids:
                unattached = select(AuditRow).where(
                    AuditRow.cluster == self._cluster,
                    AuditRow.kind == "verification",
                    col(AuditRow.incident_id).is_(None),
                )
                found |= _reverted_in(session.exec(unattached))
            return found

    def changes_after(
        self, *, kind: str, namespace: str | None, name: str, after: datetime, until: datetime
    ) -> list[datetime]:
        """When new versions of one object were observed in (after, until]: its changes."""
        query = (
            select(SnapshotRow.observed_at)
            .where(
                SnapshotRow.cluster == self._cluster,
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
        query = select(AuditRow).where(AuditRow.cluster == self._cluster, col(AuditRow.kind).in_(list(kinds)))
        if since is not None:
            query = query.where(col(AuditRow.ts) >= since)
        with self._db.session() as session:
            return [_audit(r) for r in session.exec(query.order_by(col(AuditRow.seq)))]


def _reverted_by_owner(session: Session, cluster: str, incident_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(incident_ids))):
        query = select(AuditRow).where(
            AuditRow.cluster == cluster, AuditRow.kind == "verification", col(AuditRow.incident_id).in_(chunk)
        )
        found |= _reverted_in(session.exec(query))
    return found


def _reverted_in(rows: Iterable[AuditRow]) -> set[str]:
    """The executions named by the `reverted-by-owner` records among these verification records."""
    found: set[str] = set()
    for row in rows:
        payload = row.payload or {}
        if payload.get("outcome") == Ending.REVERTED_BY_OWNER.value and payload.get("execution"):
            found.add(str(payload["execution"]))
    return found


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
