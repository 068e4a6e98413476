"""Approval requests and votes in SQL: implements `approvals.model.ApprovalRepository`.

`transition` is one conditional UPDATE, so double clicks and two replicas make one winner.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from actions.base import ActionName
from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc, utc_or_none
from agent.store.tables import ApprovalRequestRow, ApprovalVoteRow, RelayedVoteRow
from approvals.model import ApprovalRequest, ApprovalState, Target, Vote, VoteChannel, VoteDecision


class SqlApprovalRepository:
    """Persisted approval requests; nothing lives only in memory."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def create(self, request: ApprovalRequest) -> None:
        """Store a new request (as this cluster's); a duplicate ID raises ValueError."""
        try:
            with self._db.session(write_lock=True) as session:
                session.add(_row(request, self._cluster))
                session.flush()
                for vote in request.votes:
                    session.add(_vote_row(request.id, vote, self._cluster))
        except IntegrityError:
            raise ValueError(f"approval request {request.id} already exists") from None

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request with its votes, or None."""
        with self._db.session() as session:
            row = session.get(ApprovalRequestRow, request_id)
            if row is None or row.cluster != self._cluster:
                return None
            return _request(row, _votes_of(session, [row.id]).get(row.id, []))

    def list(self, *, state: ApprovalState | None = None) -> Sequence[ApprovalRequest]:
        """Requests (all, or in one state), oldest first."""
        return self.page(state=state)

    def page(
        self, *, state: ApprovalState | None = None, limit: int | None = None, offset: int = 0
    ) -> Sequence[ApprovalRequest]:
        """One page of requests (all, or in one state), oldest first: one read for the requests
        (an index walk) and one for all their votes, whatever the page's size."""
        query = select(ApprovalRequestRow).where(ApprovalRequestRow.cluster == self._cluster)
        if state is not None:
            query = query.where(ApprovalRequestRow.state == state.value)
        query = query.order_by(col(ApprovalRequestRow.created_at), col(ApprovalRequestRow.id)).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self._db.session() as session:
            rows = session.exec(query).all()
            votes = _votes_of(session, [row.id for row in rows])
            return [_request(row, votes.get(row.id, [])) for row in rows]

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
                    col(ApprovalRequestRow.cluster) == self._cluster,
                    col(ApprovalRequestRow.state).in_([s.value for s in from_states]),
                )
                .values(**values)
            )
            return outcome.rowcount == 1

    def add_vote(self, request_id: str, vote: Vote) -> None:
        """Append a vote (a record of clicks; the queue decides what they mean)."""
        with self._db.session(write_lock=True) as session:
            row = session.get(ApprovalRequestRow, request_id)
            if row is None or row.cluster != self._cluster:
                raise KeyError(request_id)
            session.add(_vote_row(request_id, vote, self._cluster))

    def due_for_expiry(self, now: datetime) -> Sequence[ApprovalRequest]:
        """Pending requests whose deadline is at or before `now`, oldest deadline first."""
        query = select(ApprovalRequestRow).where(
            ApprovalRequestRow.cluster == self._cluster,
            ApprovalRequestRow.state == ApprovalState.PENDING.value,
            col(ApprovalRequestRow.deadline) <= now,
        )
        with self._db.session() as session:
            rows = session.exec(query.order_by(col(ApprovalRequestRow.deadline), col(ApprovalRequestRow.id))).all()
            votes = _votes_of(session, [row.id for row in rows])
            return [_request(row, votes.get(row.id, [])) for row in rows]

    def set_message_ref(self, request_id: str, *, channel: str, ts: str) -> None:
        """Remember where the Slack message for the request lives."""
        with self._db.session(write_lock=True) as session:
            session.connection().execute(
                update(ApprovalRequestRow)
                .where(col(ApprovalRequestRow.id) == request_id, col(ApprovalRequestRow.cluster) == self._cluster)
                .values(slack_channel=channel, slack_ts=ts)
            )

    # --- the fleet: votes received for requests another cluster owns (docs/fleet.md) -------

    def relay(self, request_id: str, vote: Vote) -> str | None:
        """Hand a vote to the cluster that owns the request (an `approvals.queue.VoteRelay`):
        stored for that cluster's agent to take; nothing of the request changes here. Returns
        the owner, or None when no cluster has the request."""
        with self._db.session(write_lock=True) as session:
            row = session.get(ApprovalRequestRow, request_id)
            if row is None:
                return None
            session.add(
                RelayedVoteRow(
                    cluster=row.cluster,
                    request_id=request_id,
                    approver=vote.approver,
                    decision=vote.decision.value,
                    channel=vote.channel.value,
                    received_by=self._cluster,
                    at=vote.at,
                )
            )
            return row.cluster

    def relayed_votes(self, *, limit: int = 100) -> Sequence[RelayedVote]:
        """Votes other clusters' agents received for this cluster's requests, oldest first."""
        query = (
            select(RelayedVoteRow)
            .where(RelayedVoteRow.cluster == self._cluster)
            .order_by(col(RelayedVoteRow.id))
            .limit(limit)
        )
        with self._db.session() as session:
            return [
                RelayedVote(
                    id=int(row.id or 0),
                    request_id=row.request_id,
                    vote=Vote(
                        approver=row.approver,
                        decision=VoteDecision(row.decision),
                        channel=VoteChannel(row.channel),
                        at=utc(row.at),
                    ),
                    received_by=row.received_by,
                )
                for row in session.exec(query)
            ]

    def forget_relayed_vote(self, relayed_id: int) -> None:
        """Drop a relayed vote once it has been cast (cast first: a crash in between casts it
        again, which the queue answers as a repeat, never as a second approval)."""
        with self._db.session(write_lock=True) as session:
            session.connection().execute(
                delete(RelayedVoteRow).where(
                    col(RelayedVoteRow.id) == relayed_id, col(RelayedVoteRow.cluster) == self._cluster
                )
            )


@dataclass(frozen=True)
class RelayedVote:
    """A vote received by another cluster's agent for one of this cluster's requests."""

    id: int
    request_id: str
    vote: Vote
    received_by: str


def _row(request: ApprovalRequest, cluster: str) -> ApprovalRequestRow:
    return ApprovalRequestRow(
        id=request.id,
        cluster=cluster,
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


def _vote_row(request_id: str, vote: Vote, cluster: str) -> ApprovalVoteRow:
    return ApprovalVoteRow(
        request_id=request_id,
        cluster=cluster,
        approver=vote.approver,
        decision=vote.decision.value,
        channel=vote.channel.value,
        at=vote.at,
    )


VOTES_PER_READ = 500
"""Requests whose votes one statement reads (bound parameters stay under SQLite's limit)."""


def _votes_of(session: Session, request_ids: Sequence[str]) -> dict[str, list[ApprovalVoteRow]]:
    """The votes on each of the requests, in the order they were cast."""
    votes: dict[str, list[ApprovalVoteRow]] = {}
    for start in range(0, len(request_ids), VOTES_PER_READ):
        chunk = request_ids[start : start + VOTES_PER_READ]
        query = select(ApprovalVoteRow).where(col(ApprovalVoteRow.request_id).in_(chunk))
        for vote in session.exec(query.order_by(col(ApprovalVoteRow.id))):
            votes.setdefault(vote.request_id, []).append(vote)
    return votes


def _request(row: ApprovalRequestRow, votes: Sequence[ApprovalVoteRow]) -> ApprovalRequest:
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
        cluster=row.cluster,
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
