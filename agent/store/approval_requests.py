"""Approval requests and votes in SQL: implements `approvals.model.ApprovalRepository`.

`transition` is one conditional UPDATE, so double clicks and two replicas make one winner.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from actions.base import ActionName
from agent.store.database import Database, utc, utc_or_none
from agent.store.tables import ApprovalRequestRow, ApprovalVoteRow
from approvals.model import ApprovalRequest, ApprovalState, Target, Vote, VoteChannel, VoteDecision


class SqlApprovalRepository:
    """Persisted approval requests; nothing lives only in memory."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, request: ApprovalRequest) -> None:
        """Store a new request; a duplicate ID raises ValueError."""
        try:
            with self._db.session(write_lock=True) as session:
                session.add(_row(request))
                session.flush()
                for vote in request.votes:
                    session.add(_vote_row(request.id, vote))
        except IntegrityError:
            raise ValueError(f"approval request {request.id} already exists") from None

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request with its votes, or None."""
        with self._db.session() as session:
            row = session.get(ApprovalRequestRow, request_id)
            return _request(session, row) if row else None

    def list(self, *, state: ApprovalState | None = None) -> Sequence[ApprovalRequest]:
        """Requests (all, or in one state), oldest first."""
        query = select(ApprovalRequestRow)
        if state is not None:
            query = query.where(ApprovalRequestRow.state == state.value)
        with self._db.session() as session:
            rows = session.exec(query.order_by(col(ApprovalRequestRow.created_at), col(ApprovalRequestRow.id)))
            return [_request(session, row) for row in rows]

    def transition(
        self,
        request_id: str,
        from_states: Collection[ApprovalState],
        to_state: ApprovalState,
        *,
        at: datetime,
        result: str | None = None,
        undo_available: bool | None = None,
    ) -> bool:
        """Compare-and-set the state in one UPDATE; True only for the caller that changed it."""
        values: dict[str, Any] = {"state": to_state.value, "updated_at": at}
        if result is not None:
            values["result"] = result
        if undo_available is not None:
            values["undo_available"] = undo_available
        with self._db.session(write_lock=True) as session:
            outcome = session.connection().execute(
                update(ApprovalRequestRow)
                .where(
                    col(ApprovalRequestRow.id) == request_id,
                    col(ApprovalRequestRow.state).in_([s.value for s in from_states]),
                )
                .values(**values)
            )
            return outcome.rowcount == 1

    def add_vote(self, request_id: str, vote: Vote) -> None:
        """Append a vote (a record of clicks; the queue decides what they mean)."""
        with self._db.session(write_lock=True) as session:
            if session.get(ApprovalRequestRow, request_id) is None:
                raise KeyError(request_id)
            session.add(_vote_row(request_id, vote))

    def due_for_expiry(self, now: datetime) -> Sequence[ApprovalRequest]:
        """Pending requests whose deadline is at or before `now`, oldest deadline first."""
        query = select(ApprovalRequestRow).where(
            ApprovalRequestRow.state == ApprovalState.PENDING.value, col(ApprovalRequestRow.deadline) <= now
        )
        with self._db.session() as session:
            rows = session.exec(query.order_by(col(ApprovalRequestRow.deadline), col(ApprovalRequestRow.id)))
            return [_request(session, row) for row in rows]

    def set_message_ref(self, request_id: str, *, channel: str, ts: str) -> None:
        """Remember where the Slack message for the request lives."""
        with self._db.session(write_lock=True) as session:
            session.connection().execute(
                update(ApprovalRequestRow)
                .where(col(ApprovalRequestRow.id) == request_id)
                .values(slack_channel=channel, slack_ts=ts)
            )


def _row(request: ApprovalRequest) -> ApprovalRequestRow:
    return ApprovalRequestRow(
        id=request.id,
        incident_id=request.incident_id,
        incident_summary=request.incident_summary,
        action=request.action.value,
        params=request.params,
        target_kind=request.target.kind,
        target_name=request.target.name,
        target_namespace=request.target.namespace,
        risk=request.risk,
        threshold=request.threshold,
        required_approvals=request.required_approvals,
        requested_by=request.requested_by,
        state=request.state.value,
        created_at=request.created_at,
        deadline=request.deadline,
        updated_at=request.updated_at,
        slack_channel=request.slack_channel,
        slack_ts=request.slack_ts,
        result=request.result,
        undo_available=request.undo_available,
    )


def _vote_row(request_id: str, vote: Vote) -> ApprovalVoteRow:
    return ApprovalVoteRow(
        request_id=request_id,
        approver=vote.approver,
        decision=vote.decision.value,
        channel=vote.channel.value,
        at=vote.at,
    )


def _request(session: Session, row: ApprovalRequestRow) -> ApprovalRequest:
    votes = session.exec(
        select(ApprovalVoteRow).where(ApprovalVoteRow.request_id == row.id).order_by(col(ApprovalVoteRow.id))
    )
    return ApprovalRequest(
        id=row.id,
        incident_id=row.incident_id,
        incident_summary=row.incident_summary,
        action=ActionName(row.action),
        params=dict(row.params),
        target=Target(kind=row.target_kind, name=row.target_name, namespace=row.target_namespace),
        risk=dict(row.risk),
        threshold=row.threshold,
        required_approvals=row.required_approvals,
        requested_by=row.requested_by,
        state=ApprovalState(row.state),
        created_at=utc(row.created_at),
        deadline=utc(row.deadline),
        updated_at=utc_or_none(row.updated_at),
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        result=row.result,
        undo_available=row.undo_available,
        votes=tuple(
            Vote(
                approver=v.approver,
                decision=VoteDecision(v.decision),
                channel=VoteChannel(v.channel),
                at=utc(v.at),
            )
            for v in votes
        ),
    )
