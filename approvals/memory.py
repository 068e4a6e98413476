"""An in-memory `ApprovalRepository`: for tests and the demo only, never production.

Nothing here survives a restart; the agent uses the SQL store. A lock makes `transition`
a real compare-and-set across threads, so concurrency tests mean something.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime

from approvals.model import ApprovalRequest, ApprovalState, Vote


class InMemoryApprovalRepository:
    """Dict-backed repository with the same atomicity contract as the SQL store."""

    def __init__(self) -> None:
        self._rows: dict[str, ApprovalRequest] = {}
        self._lock = threading.Lock()

    def create(self, request: ApprovalRequest) -> None:
        """Store a new request; a duplicate ID is an error."""
        with self._lock:
            if request.id in self._rows:
                raise ValueError(f"approval request {request.id} already exists")
            self._rows[request.id] = request

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request, or None."""
        with self._lock:
            return self._rows.get(request_id)

    def list(self, *, state: ApprovalState | None = None) -> Sequence[ApprovalRequest]:
        """Requests, optionally in one state, oldest first."""
        with self._lock:
            rows = [r for r in self._rows.values() if state is None or r.state is state]
        return sorted(rows, key=lambda r: (r.created_at, r.id))

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
        """Compare-and-set the state; True only for the caller that changed it."""
        with self._lock:
            row = self._rows.get(request_id)
            if row is None or row.state not in from_states:
                return False
            update: dict[str, object] = {"state": to_state, "updated_at": at}
            if result is not None:
                update["result"] = result
            if undo_available is not None:
                update["undo_available"] = undo_available
            self._rows[request_id] = row.model_copy(update=update)
            return True

    def add_vote(self, request_id: str, vote: Vote) -> None:
        """Append a vote to the request."""
        with self._lock:
            row = self._rows[request_id]
            self._rows[request_id] = row.model_copy(update={"votes": (*row.votes, vote)})

    def due_for_expiry(self, now: datetime) -> Sequence[ApprovalRequest]:
        """Pending requests at or past their deadline."""
        with self._lock:
            rows = [r for r in self._rows.values() if r.state is ApprovalState.PENDING and r.deadline <= now]
        return sorted(rows, key=lambda r: (r.deadline, r.id))

    def set_message_ref(self, request_id: str, *, channel: str, ts: str) -> None:
        """Remember the Slack message of the request."""
        with self._lock:
            row = self._rows[request_id]
            self._rows[request_id] = row.model_copy(update={"slack_channel": channel, "slack_ts": ts})
