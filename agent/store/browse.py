"""Read-only, paginated queries for people browsing the store (the web console).

Every list is keyset-paginated on an indexed column, so a page costs the same with ten or ten
thousand incidents; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.approval_requests import _request, _votes_of
from agent.store.audit_rows import _record
from agent.store.database import Database, utc
from agent.store.executions import _execution
from agent.store.incidents import _decision, _incident, _proposal
from agent.store.records import AuditRecord, DecisionRecord, Execution, Incident, ProposalRecord
from agent.store.tables import (
    ApprovalRequestRow,
    AuditRow,
    DecisionRow,
    ExecutionRow,
    IncidentRow,
    ProposalRow,
)
from approvals.model import ApprovalRequest, ApprovalState

ALL_CLUSTERS = "*"
"""The incident filter's cluster for every cluster of a shared store (an explicit fleet read)."""
DECIDED_VERDICTS = ("execute", "approve", "deny")
"""Verdicts stored with a proposal's decision; `escalate` and `ignore` live in the incident's status."""


@dataclass(frozen=True)
class IncidentFilter:
    """What a person narrowed the list to; None means any."""

    namespace: str | None = None
    verdict: str | None = None
    action: str | None = None
    status: str | None = None
    cluster: str | None = None
    """None: the console's own cluster; a name: that cluster's; `ALL_CLUSTERS`: every cluster's."""


@dataclass(frozen=True)
class Cursor:
    """Keyset position: rows strictly older than this (started_at, id)."""

    started_at: datetime
    incident_id: str


@dataclass(frozen=True)
class IncidentSummary:
    """One row of the incident list: the incident, its latest proposal and that proposal's verdict."""

    incident: Incident
    proposal: ProposalRecord | None = None
    decision: DecisionRecord | None = None


@dataclass(frozen=True)
class IncidentPage:
    """One page of incidents, newest first, and the cursor of the next page (None on the last)."""

    rows: list[IncidentSummary]
    next_cursor: Cursor | None = None


@dataclass(frozen=True)
class IncidentStory:
    """Everything recorded about one incident, for its page."""

    incident: Incident
    proposals: list[ProposalRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    approvals: list[ApprovalRequest] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)


class BrowseRepository:
    """Pages of incidents and audit records, and one incident's whole story."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def incidents(self, filters: IncidentFilter, *, cursor: Cursor | None = None, limit: int = 50) -> IncidentPage:
        """Incidents newest first, filtered, `limit` per page (this cluster's unless the filter
        names another or all)."""
        query = select(IncidentRow)
        cluster = filters.cluster or self._cluster
        if cluster != ALL_CLUSTERS:
            query = query.where(IncidentRow.cluster == cluster)
        for condition in _conditions(filters):
            query = query.where(condition)
        if cursor is not None:
            query = query.where(
                or_(
                    col(IncidentRow.started_at) < cursor.started_at,
                    and_(col(IncidentRow.started_at) == cursor.started_at, col(IncidentRow.id) < cursor.incident_id),
                )
            )
        query = query.order_by(col(IncidentRow.started_at).desc(), col(IncidentRow.id).desc()).limit(limit + 1)
        with self._db.session() as session:
            rows = list(session.exec(query))
            more = len(rows) > limit
            incidents = [_incident(r) for r in rows[:limit]]
            summaries = _summaries(session, incidents)
        last = incidents[-1] if more and incidents else None
        return IncidentPage(summaries, Cursor(last.started_at, last.id) if last else None)

    def clusters(self) -> list[str]:
        """Clusters that have incidents in this store, for the filter's choices (a fleet read)."""
        with self._db.session() as session:
            return sorted(str(c) for c in session.exec(select(IncidentRow.cluster).distinct()))

    def namespaces(self) -> list[str]:
        """Namespaces seen on incidents, for the filter's choices."""
        with self._db.session() as session:
            query = select(IncidentRow.namespace).where(col(IncidentRow.namespace).is_not(None)).distinct()
            return sorted(str(n) for n in session.exec(query) if n)

    def story(self, incident_id: str) -> IncidentStory | None:
        """The incident with its proposals, decisions, approval requests, executions and audit records."""
        with self._db.session() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                return None
            proposals = session.exec(
                select(ProposalRow).where(ProposalRow.incident_id == incident_id).order_by(col(ProposalRow.created_at))
            ).all()
            ids = [p.id for p in proposals]
            decisions = session.exec(
                select(DecisionRow).where(col(DecisionRow.proposal_id).in_(ids)).order_by(col(DecisionRow.created_at))
            ).all()
            requests = session.exec(
                select(ApprovalRequestRow)
                .where(ApprovalRequestRow.incident_id == incident_id)
                .order_by(col(ApprovalRequestRow.created_at))
            ).all()
            executions = session.exec(
                select(ExecutionRow)
                .where(ExecutionRow.incident_id == incident_id)
                .order_by(col(ExecutionRow.created_at))
            ).all()
            audit = session.exec(
                select(AuditRow)
                .where(AuditRow.cluster == row.cluster, AuditRow.incident_id == incident_id)
                .order_by(col(AuditRow.seq))
            ).all()
            votes = _votes_of(session, [r.id for r in requests])
            return IncidentStory(
                incident=_incident(row),
                proposals=[_proposal(p) for p in proposals],
                decisions=[_decision(d) for d in decisions],
                approvals=[_request(r, votes.get(r.id, [])) for r in requests],
                executions=[_execution(e) for e in executions],
                audit=[_record(a) for a in audit],
            )

    def pending_approvals(self) -> list[ApprovalRequest]:
        """Pending approval requests with their votes, oldest first, in two queries."""
        with self._db.session() as session:
            rows = session.exec(
                select(ApprovalRequestRow)
                .where(
                    ApprovalRequestRow.cluster == self._cluster,
                    ApprovalRequestRow.state == ApprovalState.PENDING.value,
                )
                .order_by(col(ApprovalRequestRow.created_at), col(ApprovalRequestRow.id))
            ).all()
            votes = _votes_of(session, [r.id for r in rows])
            return [_request(r, votes.get(r.id, [])) for r in rows]

    def audit_page(self, *, before: int | None = None, limit: int = 50) -> list[AuditRecord]:
        """Audit records newest first, those with seq below `before` when given."""
        query = select(AuditRow).where(AuditRow.cluster == self._cluster)
        if before is not None:
            query = query.where(col(AuditRow.seq) < before)
        with self._db.session() as session:
            rows = session.exec(query.order_by(col(AuditRow.seq).desc()).limit(limit)).all()
            return [_record(r) for r in rows]

    def audit_record(self, seq: int) -> AuditRecord | None:
        """One audit record, or None."""
        with self._db.session() as session:
            row = session.get(AuditRow, (self._cluster, seq))
            return _record(row) if row else None


def _conditions(filters: IncidentFilter) -> list[Any]:
    conditions: list[Any] = []
    if filters.namespace:
        conditions.append(IncidentRow.namespace == filters.namespace)
    if filters.status:
        conditions.append(IncidentRow.status == filters.status)
    # IN (uncorrelated subquery), evaluated once, on `id || ''`: an expression no index serves, so
    # the planner walks the newest-first index and stops after one page instead of fetching and
    # sorting every match.
    unindexed_id = col(IncidentRow.id).concat("")
    if filters.action:
        acted = select(ProposalRow.incident_id).where(col(ProposalRow.action) == filters.action)
        conditions.append(unindexed_id.in_(acted))
    if filters.verdict in DECIDED_VERDICTS:
        decided = (
            select(ProposalRow.incident_id)
            .join(DecisionRow, col(DecisionRow.proposal_id) == col(ProposalRow.id))
            .where(col(DecisionRow.verdict) == filters.verdict)
        )
        conditions.append(unindexed_id.in_(decided))
    elif filters.verdict in ("escalate", "ignore"):
        status = "escalated" if filters.verdict == "escalate" else "ignored"
        conditions.append(IncidentRow.status == status)
        conditions.append(unindexed_id.not_in(select(ProposalRow.incident_id)))
    return conditions


def _summaries(session: Session, incidents: Sequence[Incident]) -> list[IncidentSummary]:
    """Attach each incident's latest proposal and its latest decision: two indexed queries."""
    ids = [i.id for i in incidents]
    latest: dict[str, ProposalRecord] = {}
    if ids:
        rows = session.exec(
            select(ProposalRow).where(col(ProposalRow.incident_id).in_(ids)).order_by(col(ProposalRow.created_at))
        )
        for row in rows:
            latest[row.incident_id] = _proposal(row)
    decisions: dict[str, DecisionRecord] = {}
    proposal_ids = [p.id for p in latest.values()]
    if proposal_ids:
        rows_d = session.exec(
            select(DecisionRow)
            .where(col(DecisionRow.proposal_id).in_(proposal_ids))
            .order_by(col(DecisionRow.created_at))
        )
        for row_d in rows_d:
            decisions[row_d.proposal_id] = _decision(row_d)
    summaries = []
    for incident in incidents:
        proposal = latest.get(incident.id)
        summaries.append(IncidentSummary(incident, proposal, decisions.get(proposal.id) if proposal else None))
    return summaries


def cursor_text(cursor: Cursor) -> str:
    """The cursor as a query-string value."""
    return f"{cursor.started_at.isoformat()}|{cursor.incident_id}"


def parse_cursor(text: str | None) -> Cursor | None:
    """A cursor from `cursor_text`, or None when absent or malformed."""
    if not text or "|" not in text:
        return None
    stamp, _, incident_id = text.partition("|")
    try:
        return Cursor(utc(datetime.fromisoformat(stamp)), incident_id[:64])
    except ValueError:
        return None
