"""Executions and the claim that makes each one run at most once across replicas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import update
from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc, utc_or_none
from agent.store.records import Execution, ExecutionState
from agent.store.tables import ExecutionRow

FINISHED = (ExecutionState.SUCCEEDED, ExecutionState.FAILED)
ACTIVE = (ExecutionState.CLAIMED, ExecutionState.RUNNING)


class FencedOut(Exception):
    """This replica may not write for the execution: it lost the Lease or its claim was taken over."""


class ExecutionRepository:
    """Action runs: created pending, claimed by one replica, then running and finished."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._clock = clock
        self._cluster = cluster

    def create(
        self,
        *,
        action: str,
        params: dict[str, Any],
        target_kind: str,
        target_name: str,
        target_namespace: str | None = None,
        proposal_id: str | None = None,
        incident_id: str | None = None,
        approval_request_id: str | None = None,
    ) -> Execution:
        """Record a pending execution (with the approval request it carries out, if any)."""
        row = ExecutionRow(
            id=uuid4().hex,
            cluster=self._cluster,
            action=action,
            params=params,
            target_kind=target_kind,
            target_name=target_name,
            target_namespace=target_namespace,
            proposal_id=proposal_id,
            incident_id=incident_id,
            approval_request_id=approval_request_id,
            state=ExecutionState.PENDING,
            created_at=self._clock(),
        )
        with self._db.session(write_lock=True) as session:
            session.add(row)
            session.flush()
            return _execution(row)

    def for_approval_request(self, request_id: str) -> Execution | None:
        """The run that carries out this approval request, if one was recorded."""
        with self._db.session() as session:
            row = session.exec(
                select(ExecutionRow)
                .where(ExecutionRow.cluster == self._cluster, ExecutionRow.approval_request_id == request_id)
                .limit(1)
            ).first()
            return _execution(row) if row else None

    def get(self, execution_id: str) -> Execution | None:
        """The execution with this id, or None."""
        with self._db.session() as session:
            row = session.get(ExecutionRow, execution_id)
            return _execution(row) if row and row.cluster == self._cluster else None

    def claim_execution(self, execution_id: str, owner: str) -> bool:
        """Claim a pending execution for `owner`; True for exactly one caller, however many race.

        PostgreSQL: the row is locked with FOR UPDATE SKIP LOCKED, so a competing replica skips
        it instead of waiting. SQLite: one conditional UPDATE, atomic under the write lock.
        """
        now = self._clock()
        with self._db.session(write_lock=True) as session:
            if self._db.is_postgres:
                query = (
                    select(ExecutionRow.id)
                    .where(
                        ExecutionRow.id == execution_id,
                        ExecutionRow.cluster == self._cluster,
                        ExecutionRow.state == ExecutionState.PENDING,
                    )
                    .with_for_update(skip_locked=True)
                )
                if session.exec(query).first() is None:
                    return False
            result = session.connection().execute(
                update(ExecutionRow)
                .where(
                    col(ExecutionRow.id) == execution_id,
                    col(ExecutionRow.cluster) == self._cluster,
                    col(ExecutionRow.state) == ExecutionState.PENDING,
                )
                .values(
                    state=ExecutionState.CLAIMED,
                    claimed_by=owner,
                    claimed_at=now,
                    fence=col(ExecutionRow.fence) + 1,
                )
            )
            return result.rowcount == 1

    def fenced_step(
        self,
        execution_id: str,
        owner: str,
        fence: int,
        *,
        holds_lease: Callable[[], bool],
        intent: dict[str, Any] | None = None,
    ) -> None:
        """The check before every dry run and write, in one transaction with the row locked: the
        execution is still claimed by `owner` under token `fence` and this replica holds the Lease.
        A real write's `intent` is recorded in the same transaction. Raises FencedOut otherwise."""
        with self._db.session(write_lock=True) as session:
            query = select(ExecutionRow).where(ExecutionRow.id == execution_id, ExecutionRow.cluster == self._cluster)
            row = session.exec(query.with_for_update() if self._db.is_postgres else query).first()
            if row is None or row.claimed_by != owner or row.fence != fence or row.state not in ACTIVE:
                raise FencedOut(f"execution {execution_id} is no longer held by {owner} under fence {fence}")
            if not holds_lease():
                raise FencedOut(f"{owner} does not hold the Lease")
            if intent is not None:
                recorded = dict(row.intent or {})
                recorded["writes"] = [*recorded.get("writes", []), intent]
                session.connection().execute(
                    update(ExecutionRow).where(col(ExecutionRow.id) == execution_id).values(intent=recorded)
                )

    def take_over(self, execution: Execution, owner: str, *, restart: bool = False) -> Execution | None:
        """Claim an interrupted execution for `owner` with a new fencing token (compare-and-set on
        the old token), so the replica that held it can write no more. `restart`: back to claimed,
        to run again (nothing of it took effect). None when someone else changed it first."""
        values: dict[str, Any] = {"claimed_by": owner, "fence": execution.fence + 1}
        if restart:
            attempts = int((execution.intent or {}).get("attempts", 1)) + 1
            values |= {"state": ExecutionState.CLAIMED, "intent": {"writes": [], "attempts": attempts}}
        with self._db.session(write_lock=True) as session:
            result = session.connection().execute(
                update(ExecutionRow)
                .where(
                    col(ExecutionRow.id) == execution.id,
                    col(ExecutionRow.cluster) == self._cluster,
                    col(ExecutionRow.fence) == execution.fence,
                    col(ExecutionRow.state).in_([s.value for s in ACTIVE]),
                )
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            row = session.get(ExecutionRow, execution.id)
            assert row is not None
            session.refresh(row)
            return _execution(row)

    def mark_running(self, execution_id: str, owner: str, *, fence: int | None = None) -> None:
        """The claimer has started acting."""
        self._transition(execution_id, owner, ExecutionState.CLAIMED, {"state": ExecutionState.RUNNING}, fence=fence)

    def record_outcome(
        self, execution_id: str, owner: str, outcome: dict[str, Any], *, fence: int | None = None
    ) -> None:
        """Keep what the action did the moment it returns, before verification: a restart
        then judges the run from the cluster with what the action itself recorded."""
        self._transition(execution_id, owner, ExecutionState.RUNNING, {"outcome": outcome}, fence=fence)

    def finish(
        self,
        execution_id: str,
        owner: str,
        *,
        succeeded: bool,
        outcome: dict[str, Any],
        verification: dict[str, Any] | None = None,
        refused: bool = False,
        effect: str | None = None,
        fence: int | None = None,
    ) -> None:
        """Record how the run ended; only the claimer may finish it. `refused`: it never acted;
        `effect`: what the cluster showed of its writes (`not_applied` keeps it out of cooldowns)."""
        state = ExecutionState.SUCCEEDED if succeeded else ExecutionState.FAILED
        values = {
            "state": ExecutionState.REFUSED if refused else state,
            "outcome": outcome,
            "verification": verification,
            "finished_at": self._clock(),
            "effect": effect,
        }
        self._transition(execution_id, owner, None, values, fence=fence)

    def _transition(
        self,
        execution_id: str,
        owner: str,
        expected: ExecutionState | None,
        values: dict[str, Any],
        *,
        fence: int | None = None,
    ) -> None:
        allowed = [expected] if expected else [ExecutionState.CLAIMED, ExecutionState.RUNNING]
        conditions = [
            col(ExecutionRow.id) == execution_id,
            col(ExecutionRow.cluster) == self._cluster,
            col(ExecutionRow.claimed_by) == owner,
            col(ExecutionRow.state).in_([s.value for s in allowed]),
        ]
        if fence is not None:
            conditions.append(col(ExecutionRow.fence) == fence)
        with self._db.session(write_lock=True) as session:
            result = session.connection().execute(update(ExecutionRow).where(*conditions).values(**values))
            if result.rowcount != 1:
                raise ValueError(f"execution {execution_id} is not held by {owner} in state {allowed}")

    def pending(self) -> list[Execution]:
        """Executions nobody has claimed yet, oldest first."""
        return self._query(states=(ExecutionState.PENDING,))

    def unfinished(self) -> list[Execution]:
        """Claimed or running executions: what a restart must resume or reconcile."""
        return self._query(states=(ExecutionState.CLAIMED, ExecutionState.RUNNING))

    def recent(
        self,
        since: datetime,
        *,
        namespace: str | None = None,
        target_kind: str | None = None,
        target_name: str | None = None,
    ) -> list[Execution]:
        """Executions created at or after `since`, optionally for one namespace or target."""
        return self._query(since=since, namespace=namespace, target_kind=target_kind, target_name=target_name)

    def _query(
        self,
        *,
        states: tuple[ExecutionState, ...] = (),
        since: datetime | None = None,
        namespace: str | None = None,
        target_kind: str | None = None,
        target_name: str | None = None,
    ) -> list[Execution]:
        query = select(ExecutionRow).where(ExecutionRow.cluster == self._cluster)
        if states:
            query = query.where(col(ExecutionRow.state).in_([s.value for s in states]))
        if since is not None:
            query = query.where(col(ExecutionRow.created_at) >= since)
        if namespace is not None:
            query = query.where(ExecutionRow.target_namespace == namespace)
        if target_kind is not None:
            query = query.where(ExecutionRow.target_kind == target_kind)
        if target_name is not None:
            query = query.where(ExecutionRow.target_name == target_name)
        with self._db.session() as session:
            return [_execution(r) for r in session.exec(query.order_by(col(ExecutionRow.created_at)))]


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
        claimed_by=row.claimed_by,
        claimed_at=utc_or_none(row.claimed_at),
        finished_at=utc_or_none(row.finished_at),
        outcome=row.outcome,
        verification=row.verification,
        fence=row.fence or 0,
        intent=row.intent,
        effect=row.effect,
        approval_request_id=row.approval_request_id,
        cluster=row.cluster,
    )
