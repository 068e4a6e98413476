"""Incidents, proposals and decisions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import func
from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc, utc_or_none
from agent.store.records import (
    ACTIVE_INCIDENT_STATES,
    INCIDENT_TRANSITIONS,
    UNRESOLVED_INCIDENT_STATES,
    DecisionRecord,
    IllegalTransition,
    Incident,
    IncidentStatus,
    ProposalRecord,
)
from agent.store.tables import DecisionRow, IncidentRow, ProposalRow

ACTIVE = tuple(sorted(ACTIVE_INCIDENT_STATES))
CLOSED_INCIDENT_STATES = frozenset({IncidentStatus.VERIFIED, IncidentStatus.RESOLVED})


class IncidentRepository:
    """Incidents, the proposals made for them and the decisions taken."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._clock = clock
        self._cluster = cluster

    def open(
        self,
        fingerprint: str,
        *,
        alerts: Sequence[dict[str, Any]],
        started_at: datetime,
        alert_name: str = "",
        namespace: str | None = None,
        group_key: str = "",
        incident_id: str | None = None,
    ) -> Incident:
        """Record a new open incident (under intake's deterministic id when given)."""
        now = self._clock()
        row = IncidentRow(
            id=incident_id or uuid4().hex,
            cluster=self._cluster,
            fingerprint=fingerprint,
            group_key=group_key,
            alert_name=alert_name,
            namespace=namespace,
            status=IncidentStatus.OPEN,
            started_at=started_at,
            updated_at=now,
            alerts=list(alerts),
        )
        with self._db.session(write_lock=True) as session:
            session.add(row)
            session.flush()
            return _incident(row)

    def get(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        with self._db.session() as session:
            row = session.get(IncidentRow, incident_id)
            return _incident(row) if row and row.cluster == self._cluster else None

    def active_by_fingerprint(self, fingerprint: str) -> Incident | None:
        """The open or in-hand incident for this fingerprint (deduplication), or None."""
        with self._db.session() as session:
            query = select(IncidentRow).where(
                IncidentRow.cluster == self._cluster,
                IncidentRow.fingerprint == fingerprint,
                col(IncidentRow.status).in_([s.value for s in ACTIVE]),
            )
            row = session.exec(query.order_by(col(IncidentRow.started_at).desc())).first()
            return _incident(row) if row else None

    def active(self, namespace: str | None = None) -> list[Incident]:
        """Open and in-hand incidents, oldest first, optionally of one namespace."""
        with self._db.session() as session:
            query = select(IncidentRow).where(
                IncidentRow.cluster == self._cluster, col(IncidentRow.status).in_([s.value for s in ACTIVE])
            )
            if namespace is not None:
                query = query.where(IncidentRow.namespace == namespace)
            return [_incident(r) for r in session.exec(query.order_by(col(IncidentRow.started_at)))]

    def unresolved(self, *, limit: int) -> list[Incident]:
        """Incidents whose alerts may still fire (newest `limit`, returned oldest first)."""
        with self._db.session() as session:
            query = select(IncidentRow).where(
                IncidentRow.cluster == self._cluster,
                col(IncidentRow.status).in_([s.value for s in UNRESOLVED_INCIDENT_STATES]),
            )
            rows = session.exec(query.order_by(col(IncidentRow.updated_at).desc()).limit(limit))
            return sorted((_incident(r) for r in rows), key=lambda i: i.started_at)

    def in_status(self, status: IncidentStatus, *, limit: int = 1000) -> list[Incident]:
        """Incidents in one status, oldest first (at most `limit`)."""
        with self._db.session() as session:
            query = select(IncidentRow).where(IncidentRow.cluster == self._cluster, IncidentRow.status == status.value)
            rows = session.exec(query.order_by(col(IncidentRow.started_at)).limit(limit))
            return [_incident(r) for r in rows]

    def count_by_status(self) -> dict[IncidentStatus, int]:
        """How many incidents are in each status (for `scutum status`)."""
        with self._db.session() as session:
            query = (
                select(IncidentRow.status, func.count())
                .where(IncidentRow.cluster == self._cluster)
                .group_by(col(IncidentRow.status))
            )
            return {IncidentStatus(status): int(n) for status, n in session.exec(query)}

    def transition(
        self,
        incident_id: str,
        to: IncidentStatus,
        *,
        allowed_from: frozenset[IncidentStatus] | None = None,
        alerts: Sequence[dict[str, Any]] | None = None,
    ) -> Incident:
        """Move an incident to `to` in one transaction, by `INCIDENT_TRANSITIONS`.

        Staying in the same status is a no-op; any other move the table does not allow (or
        that `allowed_from` narrows away) raises `IllegalTransition`; an unknown id, KeyError.
        """
        now = self._clock()
        with self._db.session(write_lock=True) as session:
            row = session.get(IncidentRow, incident_id, with_for_update=self._db.is_postgres)
            if row is None or row.cluster != self._cluster:
                raise KeyError(incident_id)
            current = IncidentStatus(row.status)
            if current is to:
                return _incident(row)
            if to not in INCIDENT_TRANSITIONS[current] or (allowed_from is not None and current not in allowed_from):
                raise IllegalTransition(f"incident {incident_id}: {current.value} -> {to.value}")
            row.status = to
            row.updated_at = now
            row.resolved_at = now if to in CLOSED_INCIDENT_STATES else None
            if alerts is not None:
                row.alerts = list(alerts)
            session.add(row)
            session.flush()
            return _incident(row)

    def add_proposal(
        self,
        incident_id: str,
        *,
        action: str,
        params: dict[str, Any],
        target_kind: str,
        target_name: str,
        target_namespace: str | None = None,
        claims: dict[str, Any] | None = None,
        planner: str = "",
    ) -> ProposalRecord:
        """Record a proposal for an incident."""
        row = ProposalRow(
            id=uuid4().hex,
            cluster=self._cluster,
            incident_id=incident_id,
            action=action,
            params=params,
            target_kind=target_kind,
            target_name=target_name,
            target_namespace=target_namespace,
            claims=dict(claims or {}),
            planner=planner,
            created_at=self._clock(),
        )
        with self._db.session(write_lock=True) as session:
            session.add(row)
            session.flush()
            return _proposal(row)

    def proposals(self, incident_id: str) -> list[ProposalRecord]:
        """The proposals made for an incident, oldest first."""
        with self._db.session() as session:
            query = select(ProposalRow).where(
                ProposalRow.cluster == self._cluster, ProposalRow.incident_id == incident_id
            )
            return [_proposal(r) for r in session.exec(query.order_by(col(ProposalRow.created_at)))]

    def add_decision(
        self,
        proposal_id: str,
        *,
        verdict: str,
        risk_total: float,
        components: dict[str, Any],
        rules: Sequence[str],
        shadow: bool = False,
    ) -> DecisionRecord:
        """Record the policy's verdict on a proposal, with the risk decomposition."""
        row = DecisionRow(
            id=uuid4().hex,
            cluster=self._cluster,
            proposal_id=proposal_id,
            verdict=verdict,
            risk_total=risk_total,
            components=components,
            rules=list(rules),
            shadow=shadow,
            created_at=self._clock(),
        )
        with self._db.session(write_lock=True) as session:
            session.add(row)
            session.flush()
            return _decision(row)

    def decisions(self, proposal_id: str) -> list[DecisionRecord]:
        """The decisions taken on a proposal, oldest first."""
        with self._db.session() as session:
            query = select(DecisionRow).where(
                DecisionRow.cluster == self._cluster, DecisionRow.proposal_id == proposal_id
            )
            return [_decision(r) for r in session.exec(query.order_by(col(DecisionRow.created_at)))]


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
        alerts=tuple(row.alerts),
        cluster=row.cluster,
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
