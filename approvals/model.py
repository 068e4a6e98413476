"""The approvals vocabulary: requests, their states, votes, and the repository contract.

Plain data only. The store (agent/store) implements `ApprovalRepository` over SQL;
approvals/memory.py implements it in memory for tests and the demo.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from actions.base import ActionName


class ApprovalState(StrEnum):
    """Where a request is: pending → approved | rejected | expired; approved → executing →
    succeeded | failed; approved → superseded when re-validation asks again."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    """Approved, but the risk rose past the margin before execution: a new request replaced it.
    (A veto found at that point fails the request instead: no approval can override a veto.)"""


TERMINAL_STATES: frozenset[ApprovalState] = frozenset(
    {
        ApprovalState.REJECTED,
        ApprovalState.EXPIRED,
        ApprovalState.SUCCEEDED,
        ApprovalState.FAILED,
        ApprovalState.SUPERSEDED,
    }
)
"""States nothing leaves."""


class VoteDecision(StrEnum):
    """What one approver said."""

    APPROVE = "approve"
    REJECT = "reject"


class VoteChannel(StrEnum):
    """Where a vote came from."""

    SLACK = "slack"
    CLI = "cli"
    MATTERMOST = "mattermost"
    CONSOLE = "console"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Target(_Frozen):
    """The object the action is aimed at (mirrors actions.base.TargetRef, as stored data)."""

    kind: str
    """Kubernetes kind, e.g. Deployment."""
    name: str
    """Object name."""
    namespace: str | None = None
    """Namespace, None for cluster-scoped objects such as Nodes."""

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


class Vote(_Frozen):
    """One recorded click or CLI command on a request."""

    approver: str
    """Slack user ID, or the CLI name given with --as."""
    decision: VoteDecision
    """Approve or reject."""
    at: datetime
    """When the vote was cast (timezone-aware)."""
    channel: VoteChannel
    """Slack or CLI."""


class ApprovalRequest(_Frozen):
    """One action waiting for (or past) a human decision, with everything the approver saw."""

    id: str
    """Opaque request ID; the only thing a Slack button carries."""
    incident_id: str
    """The incident this action is meant to fix."""
    incident_summary: str
    """One line about the incident, shown at the top of the message."""
    action: ActionName
    """The registry action to run."""
    params: dict[str, Any]
    """The action's validated params, as JSON."""
    target: Target
    """The object the action is aimed at."""
    risk: dict[str, Any]
    """Total and decomposition exactly as `RiskScore.as_json()`: {"score", "components"}."""
    threshold: float
    """The policy threshold the score was compared with (at or above it needs approval)."""
    required_approvals: int = Field(ge=1, le=2)
    """How many different approvers must approve: 1, or 2 in the highest risk band."""
    requested_by: str | None = None
    """Who asked for the action when a person did (an undo); they may not approve it."""
    created_at: datetime
    """When the request was made (timezone-aware)."""
    deadline: datetime
    """After this instant the request expires and can no longer be approved."""
    state: ApprovalState = ApprovalState.PENDING
    """Where the request is in the state machine."""
    updated_at: datetime | None = None
    """When the state last changed."""
    slack_channel: str | None = None
    """Channel ID of the Slack message, once posted."""
    slack_ts: str | None = None
    """Timestamp (message ID) of the Slack message, once posted."""
    votes: tuple[Vote, ...] = ()
    """Every accepted vote in the order cast; `approvers()` counts each person once."""
    result: str | None = None
    """Execution result detail (succeeded/failed) or the reason for superseding."""
    undo_available: bool = False
    """Whether the executed action has an inverse that can be offered as Undo."""
    cluster: str = "default"
    """The cluster the action would run in; only that cluster's agent carries it out."""

    @property
    def risk_total(self) -> float:
        """The combined risk score the approver saw."""
        return float(self.risk["score"])

    def approvers(self) -> list[str]:
        """Distinct approvers who voted approve, in first-vote order (the same person twice is one)."""
        seen: list[str] = []
        for vote in self.votes:
            if vote.decision is VoteDecision.APPROVE and vote.approver not in seen:
                seen.append(vote.approver)
        return seen

    def rejecters(self) -> list[str]:
        """Distinct approvers who voted reject, in first-vote order."""
        seen: list[str] = []
        for vote in self.votes:
            if vote.decision is VoteDecision.REJECT and vote.approver not in seen:
                seen.append(vote.approver)
        return seen


class ApprovalRepository(Protocol):
    """Persistence of approval requests. Implementations must make `transition` an atomic
    compare-and-set (one SQL UPDATE ... WHERE state IN (...)) so that double clicks and two
    replicas produce exactly one winner."""

    def create(self, request: ApprovalRequest) -> None:
        """Store a new request; its ID must not exist yet (raise ValueError if it does)."""
        ...

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request with its votes, or None."""
        ...

    def list(self, *, state: ApprovalState | None = None) -> Sequence[ApprovalRequest]:
        """Requests (all, or in one state), oldest first."""
        ...

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
        """Atomically move the request to `to_state` if it is in one of `from_states`; set
        `updated_at=at`, and `result`/`undo_available` when given. True only for the caller
        that made the change; False when the request is missing or in another state."""
        ...

    def add_vote(self, request_id: str, vote: Vote) -> None:
        """Append a vote (votes are a record of clicks; the queue decides what they mean)."""
        ...

    def due_for_expiry(self, now: datetime) -> Sequence[ApprovalRequest]:
        """Pending requests whose deadline is at or before `now`, oldest deadline first."""
        ...

    def set_message_ref(self, request_id: str, *, channel: str, ts: str) -> None:
        """Remember where the Slack message for the request lives, to update it later."""
        ...


class MessageRefs(Protocol):
    """Where each request's message lives on a chat channel, kept in the store so a restart
    updates the same message instead of posting another."""

    def get_ref(self, request_id: str, channel: str) -> str | None:
        """The message's id on `channel`, or None before it was posted."""
        ...

    def set_ref(self, request_id: str, channel: str, ref: str) -> None:
        """Remember the message's id on `channel`."""
        ...
