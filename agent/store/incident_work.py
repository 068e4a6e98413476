"""What an incident has in hand: its approval requests and executions, read together.

The incident lifecycle settles a HANDLING incident from this, so the store alone says whether
an incident still waits on an approval or an action, after a restart or on a new leader.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database
from agent.store.records import ExecutionState, IncidentStatus
from agent.store.tables import ApprovalRequestRow, ExecutionRow
from approvals.model import ApprovalState

OPEN_REQUEST_STATES = frozenset({ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.EXECUTING})
"""A request in one of these still holds its incident."""
UNFINISHED_EXECUTION_STATES = frozenset({ExecutionState.PENDING, ExecutionState.CLAIMED, ExecutionState.RUNNING})
"""An execution in one of these still holds its incident."""


@dataclass(frozen=True)
class IncidentWork:
    """An incident's approval requests and executions, as states, oldest first."""

    requests: tuple[ApprovalState, ...] = ()
    executions: tuple[ExecutionState, ...] = ()

    @property
    def in_hand(self) -> bool:
        """An approval request is open or an execution unfinished."""
        return any(s in OPEN_REQUEST_STATES for s in self.requests) or any(
            s in UNFINISHED_EXECUTION_STATES for s in self.executions
        )

    @property
    def started(self) -> bool:
        """Anything was ever asked or started for it."""
        return bool(self.requests or self.executions)

    def settled_status(self) -> IncidentStatus | None:
        """Where a HANDLING incident goes now: None while work is in hand or none was started
        yet; VERIFIED when its last execution succeeded (verification passed); otherwise
        ESCALATED (failed, refused, rejected or expired: humans take over)."""
        if self.in_hand or not self.started:
            return None
        if self.executions and self.executions[-1] is ExecutionState.SUCCEEDED:
            return IncidentStatus.VERIFIED
        return IncidentStatus.ESCALATED


class IncidentWorkReader:
    """Reads `IncidentWork` for incidents."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def of(self, incident_id: str) -> IncidentWork:
        """The requests and executions recorded for one incident."""
        with self._db.session() as session:
            requests = session.exec(
                select(ApprovalRequestRow.state)
                .where(ApprovalRequestRow.cluster == self._cluster, ApprovalRequestRow.incident_id == incident_id)
                .order_by(col(ApprovalRequestRow.created_at), col(ApprovalRequestRow.id))
            )
            request_states = tuple(ApprovalState(s) for s in requests)
            executions = session.exec(
                select(ExecutionRow.state)
                .where(ExecutionRow.cluster == self._cluster, ExecutionRow.incident_id == incident_id)
                .order_by(col(ExecutionRow.created_at), col(ExecutionRow.id))
            )
            return IncidentWork(request_states, tuple(ExecutionState(s) for s in executions))
