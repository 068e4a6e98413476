"""Earned autonomy as stored: an append-only log of promotions and demotions per case.

Implements `risk.autonomy.GrantSource` for the evaluator; written only by
`scutum policy promote | demote`, which also records each change in the audit chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc
from agent.store.tables import AutonomyGrantRow
from risk.autonomy import Grant


class AutonomyGrantRepository:
    """Promotions and demotions of (action, namespace, alert) cases."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def record(
        self,
        *,
        action: str,
        namespace: str | None,
        alert: str,
        mode: str,
        max_risk: float,
        changed_by: str,
        reason: str,
        evidence: Sequence[str],
        at: datetime,
    ) -> Grant:
        """Append a change; it is in force for the case from now on."""
        row = AutonomyGrantRow(
            cluster=self._cluster,
            action=action,
            namespace=namespace or "",
            alert_name=alert,
            mode=mode,
            max_risk=max_risk,
            changed_by=changed_by,
            reason=reason,
            evidence=list(evidence),
            changed_at=at,
        )
        with self._db.session(write_lock=True) as session:
            session.add(row)
            session.flush()
            return _grant(row)

    def current(self, action: str, namespace: str | None, alert: str) -> Grant | None:
        """The change in force for the case, or None when it was never promoted."""
        query = (
            select(AutonomyGrantRow)
            .where(
                AutonomyGrantRow.cluster == self._cluster,
                AutonomyGrantRow.action == action,
                AutonomyGrantRow.namespace == (namespace or ""),
                AutonomyGrantRow.alert_name == alert,
            )
            .order_by(col(AutonomyGrantRow.id).desc())
        )
        with self._db.session() as session:
            row = session.exec(query).first()
            return _grant(row) if row else None

    def grant_for(self, action: str, namespace: str | None, alert: str) -> Grant | None:
        """The promotion in force for the case (None when never promoted or demoted since)."""
        grant = self.current(action, namespace, alert)
        return grant if grant is not None and grant.mode == "execute" else None

    def history(self) -> list[Grant]:
        """Every change, oldest first."""
        with self._db.session() as session:
            query = select(AutonomyGrantRow).where(AutonomyGrantRow.cluster == self._cluster)
            return [_grant(r) for r in session.exec(query.order_by(col(AutonomyGrantRow.id)))]


def _grant(row: AutonomyGrantRow) -> Grant:
    return Grant(
        action=row.action,
        namespace=row.namespace or None,
        alert=row.alert_name,
        mode=row.mode,
        max_risk=row.max_risk,
        by=row.changed_by,
        at=utc(row.changed_at),
        reason=row.reason,
        evidence=tuple(row.evidence),
    )
