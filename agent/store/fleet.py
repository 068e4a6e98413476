"""Reads across every cluster of a shared store: `scutum status --all-clusters` and
`scutum audit verify --all-clusters`. Everything else in the store reads one cluster only; a
fleet-wide read is always one of these explicit methods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from agent.store.database import Database, utc, utc_or_none
from agent.store.records import ACTIVE_INCIDENT_STATES, AuditHead
from agent.store.tables import (
    ApprovalRequestRow,
    AuditHeadRow,
    ControlRow,
    DecisionRow,
    ExecutionRow,
    IncidentRow,
    ReplicaRow,
)
from approvals.model import ApprovalState


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster's line in `scutum status --all-clusters`."""

    cluster: str
    leader: str | None
    """The replica that last reported leading (None: none did)."""
    leader_seen_at: datetime | None
    open_incidents: int
    pending_approvals: int
    last_decision_at: datetime | None
    head: AuditHead
    paused: bool


class FleetReader:
    """The clusters a store holds and a summary of each."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def clusters(self) -> list[str]:
        """Every cluster with a chain, an incident, a request, a run or a replica, sorted."""
        tables = (IncidentRow, ApprovalRequestRow, ExecutionRow, ReplicaRow)
        found: set[str] = set()
        with self._db.session() as session:
            for table in tables:
                found.update(str(c) for c in session.exec(select(table.cluster).distinct()))
            found.update(str(c) for c in session.exec(select(AuditHeadRow.cluster).where(col(AuditHeadRow.seq) > 0)))
        return sorted(found)

    def summaries(self) -> list[ClusterSummary]:
        """One summary per cluster: a handful of grouped reads, whatever the number of clusters."""
        active = [s.value for s in ACTIVE_INCIDENT_STATES]
        with self._db.session() as session:
            incidents = dict(
                session.exec(
                    select(IncidentRow.cluster, func.count())
                    .where(col(IncidentRow.status).in_(active))
                    .group_by(col(IncidentRow.cluster))
                ).all()
            )
            pending = dict(
                session.exec(
                    select(ApprovalRequestRow.cluster, func.count())
                    .where(ApprovalRequestRow.state == ApprovalState.PENDING.value)
                    .group_by(col(ApprovalRequestRow.cluster))
                ).all()
            )
            decided = dict(
                session.exec(
                    select(DecisionRow.cluster, func.max(DecisionRow.created_at)).group_by(col(DecisionRow.cluster))
                ).all()
            )
            # a fresh store's seed rows (an empty head, a never-set switch) name no cluster in use
            heads = {
                row.cluster: AuditHead(seq=row.seq, hash=row.hash)
                for row in session.exec(select(AuditHeadRow).where(col(AuditHeadRow.seq) > 0))
            }
            paused = {
                row.cluster: row.paused
                for row in session.exec(select(ControlRow).where(col(ControlRow.changed_at).is_not(None)))
            }
            leaders: dict[str, ReplicaRow] = {}
            for row in session.exec(
                select(ReplicaRow).where(col(ReplicaRow.leading)).order_by(col(ReplicaRow.updated_at))
            ):
                leaders[row.cluster] = row  # the most recent report wins
        names = sorted({*incidents, *pending, *decided, *heads, *paused, *leaders})
        return [
            ClusterSummary(
                cluster=name,
                leader=leaders[name].identity if name in leaders else None,
                leader_seen_at=utc(leaders[name].updated_at) if name in leaders else None,
                open_incidents=int(incidents.get(name, 0)),
                pending_approvals=int(pending.get(name, 0)),
                last_decision_at=utc_or_none(decided.get(name)),
                head=heads.get(name, AuditHead(seq=0, hash="")),
                paused=bool(paused.get(name, False)),
            )
            for name in names
        ]
