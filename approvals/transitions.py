"""The approval request's state machine: its transition table and the event each move reports.

`ApprovalQueue` (approvals/queue.py) makes every move through this table; docs/architecture.md
shows it, and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from approvals.model import ApprovalState

S = ApprovalState
TRANSITIONS: Mapping[ApprovalState, frozenset[ApprovalState]] = {
    S.PENDING: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED}),
    S.APPROVED: frozenset({S.EXECUTING, S.SUPERSEDED}),
    S.EXECUTING: frozenset({S.SUCCEEDED, S.FAILED, S.SUPERSEDED}),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.SUPERSEDED: frozenset(),
}
"""The only moves the state machine allows."""


def can_transition(from_state: ApprovalState, to_state: ApprovalState) -> bool:
    """Whether the state machine allows moving from one state to the other."""
    return to_state in TRANSITIONS[from_state]


class IllegalApprovalTransition(ValueError):
    """A move into a state the table lets nothing reach."""


def sources_of(to_state: ApprovalState) -> frozenset[ApprovalState]:
    """The states `TRANSITIONS` allows into `to_state` (what a compare-and-set may move from)."""
    found = frozenset(state for state, targets in TRANSITIONS.items() if to_state in targets)
    if not found:
        raise IllegalApprovalTransition(f"nothing moves into {to_state.value}")
    return found


class ApprovalEvent(StrEnum):
    """What the queue reports to its audit sink, one per transition or vote."""

    REQUESTED = "approval_requested"
    VOTE_RECORDED = "approval_vote_recorded"
    VOTE_REFUSED = "approval_vote_refused"
    VOTE_RELAYED = "approval_vote_relayed"
    APPROVED = "approval_approved"
    REJECTED = "approval_rejected"
    EXPIRED = "approval_expired"
    EXECUTING = "approval_executing"
    SUCCEEDED = "approval_succeeded"
    FAILED = "approval_failed"
    SUPERSEDED = "approval_superseded"


EVENT_OF: Mapping[ApprovalState, ApprovalEvent] = {
    S.APPROVED: ApprovalEvent.APPROVED,
    S.REJECTED: ApprovalEvent.REJECTED,
    S.EXPIRED: ApprovalEvent.EXPIRED,
    S.EXECUTING: ApprovalEvent.EXECUTING,
    S.SUCCEEDED: ApprovalEvent.SUCCEEDED,
    S.FAILED: ApprovalEvent.FAILED,
    S.SUPERSEDED: ApprovalEvent.SUPERSEDED,
}
"""The event each transition reports."""
