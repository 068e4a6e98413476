"""The approval state machine: pure rules plus `ApprovalQueue`, the service over a repository.

Every transition is a compare-and-set in the repository, so a double click or two replicas
produce exactly one winner, and every transition is reported to the injected audit callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from approvals.authz import ApproverPolicy, required_approvals
from approvals.identity import Voter
from approvals.model import (
    ApprovalRepository,
    ApprovalRequest,
    ApprovalState,
    Target,
    Vote,
    VoteChannel,
    VoteDecision,
)
from approvals.settings import ApprovalSettings
from approvals.transitions import (
    EVENT_OF,
    TRANSITIONS,
    ApprovalEvent,
    IllegalApprovalTransition,
    can_transition,
    sources_of,
)
from risk.model import Proposal, RiskScore

__all__ = [
    "EVENT_OF",
    "TRANSITIONS",
    "ApprovalEvent",
    "ApprovalQueue",
    "IllegalApprovalTransition",
    "can_transition",
    "needs_reapproval",
    "sources_of",
]

AuditSink = Callable[[str, dict[str, Any]], None]
"""Receives (event name, JSON-able details); the agent wires it to the audit chain."""

S = ApprovalState


def is_past_deadline(request: ApprovalRequest, now: datetime) -> bool:
    """A request can no longer be approved at or after its deadline."""
    return now >= request.deadline


def needs_reapproval(approved_risk: float, current_risk: float, *, margin: float, vetoed: bool) -> bool:
    """Before executing: ask again when a veto now applies or the risk rose by more than `margin`."""
    return vetoed or current_risk > approved_risk + margin


class ApprovalNotifier(Protocol):
    """Shows requests to humans (the Slack channel). Implementations must not raise: a failure
    to post leaves the request pending, and it can still be decided from the CLI."""

    def publish(self, request: ApprovalRequest) -> None:
        """Post the request's message, or update it to show the current state."""
        ...

    def publish_result(self, request: ApprovalRequest) -> None:
        """Reply in the message's thread with the execution result (and Undo when available)."""
        ...


@dataclass(frozen=True)
class Approved:
    """This vote completed the approval; the leader's dispatch picks the request up from the
    store and runs it (once: the executor claims it by moving it to EXECUTING)."""

    request: ApprovalRequest


@dataclass(frozen=True)
class Rejected:
    """This vote rejected the request."""

    request: ApprovalRequest


@dataclass(frozen=True)
class NeedsAnotherApprover:
    """The vote counted (or was a repeat), but the request needs more different approvers."""

    request: ApprovalRequest
    approvals: int
    required: int
    repeated: bool = False
    """The same person had already approved; the same person twice is one approval."""


@dataclass(frozen=True)
class NotAllowed:
    """The voter may not cast this vote; nothing changed."""

    reason: str
    request: ApprovalRequest


@dataclass(frozen=True)
class Expired:
    """The deadline has passed; the request cannot be approved any more."""

    request: ApprovalRequest


@dataclass(frozen=True)
class AlreadyDecided:
    """Someone else decided first (or it already ran); nothing changed."""

    request: ApprovalRequest


@dataclass(frozen=True)
class NotFound:
    """No request with this ID."""

    request_id: str


@dataclass(frozen=True)
class Relayed:
    """The request belongs to another cluster of the fleet: the vote was handed to that
    cluster's agent, which records it through its own checks. Nothing changed here."""

    request_id: str
    cluster: str


VoteResult = Approved | Rejected | NeedsAnotherApprover | NotAllowed | Expired | AlreadyDecided | NotFound | Relayed
"""Every possible answer to a vote."""


def _who(voter: Voter) -> dict[str, str]:
    """Audit fields of a voter: the person counted, and the identity the channel vouched for."""
    return {"approver": voter.person, "channel": voter.channel.value, "channel_identity": voter.identity}


class VoteRelay(Protocol):
    """Hands a vote for a request this agent does not own to the cluster that does (one Slack
    app or Mattermost team may serve a fleet; see docs/fleet.md)."""

    def relay(self, request_id: str, vote: Vote) -> str | None:
        """The owning cluster's name when the request exists there and the vote was handed
        over; None when no cluster has the request."""
        ...


def _new_id() -> str:
    return uuid.uuid4().hex


class _SilentNotifier:
    def publish(self, request: ApprovalRequest) -> None:
        """Nothing to show."""

    def publish_result(self, request: ApprovalRequest) -> None:
        """Nothing to show."""


class ApprovalQueue:
    """Creates requests, counts votes, expires, and records execution, over a repository.

    It calls nobody back: an approved request waits in the store until the leader's dispatch
    picks it up, so a click (which must be answered within 3 s) never runs an action, and a
    request approved on a standby or from the CLI runs the same way.
    """

    def __init__(
        self,
        repository: ApprovalRepository,
        settings: ApprovalSettings,
        *,
        policy: ApproverPolicy,
        audit: AuditSink,
        notifier: ApprovalNotifier | None = None,
        new_id: Callable[[], str] = _new_id,
        relay: VoteRelay | None = None,
    ) -> None:
        self._repo = repository
        self._relay = relay
        self._settings = settings
        self._policy = policy
        self._audit = audit
        self._notifier: ApprovalNotifier = notifier or _SilentNotifier()
        self._new_id = new_id

    @property
    def notifier(self) -> ApprovalNotifier:
        """Where requests are shown (fixed at construction)."""
        return self._notifier

    @property
    def repository(self) -> ApprovalRepository:
        """The repository the queue works on."""
        return self._repo

    def get(self, request_id: str) -> ApprovalRequest | None:
        """The request, or None."""
        return self._repo.get(request_id)

    def request(
        self,
        proposal: Proposal,
        risk: RiskScore,
        *,
        incident_id: str,
        incident_summary: str,
        threshold: float,
        now: datetime,
    ) -> ApprovalRequest:
        """Store a pending request for a proposal the policy sent for approval, and show it."""
        request = ApprovalRequest(
            id=self._new_id(),
            incident_id=incident_id,
            incident_summary=incident_summary,
            action=proposal.action,
            params=proposal.params.model_dump(mode="json"),
            target=Target(kind=proposal.target.kind, name=proposal.target.name, namespace=proposal.target.namespace),
            risk=risk.as_json(),
            threshold=threshold,
            required_approvals=required_approvals(risk.total, self._settings),
            requested_by=proposal.requested_by,
            created_at=now,
            deadline=now + timedelta(seconds=self._settings.timeout_seconds),
            updated_at=now,
        )
        return self._create(request)

    def _create(self, request: ApprovalRequest) -> ApprovalRequest:
        self._repo.create(request)
        self._emit(
            ApprovalEvent.REQUESTED,
            request,
            risk=request.risk,
            threshold=request.threshold,
            required_approvals=request.required_approvals,
            deadline=request.deadline.isoformat(),
            requested_by=request.requested_by,
        )
        stored = self._repo.get(request.id) or request  # as stored: with the cluster it belongs to
        self._notifier.publish(stored)
        return stored

    def vote(
        self, request_id: str, approver: str, decision: VoteDecision, *, channel: VoteChannel, now: datetime
    ) -> VoteResult:
        """Record one person's decision; `approver` is the identity the channel vouched for, and
        the vote counts under the person it resolves to (the same person on two channels is one
        approver). Only the vote that wins the state change gets Approved or Rejected; a repeat,
        a race loser or a late click changes nothing."""
        request = self._repo.get(request_id)
        if request is None:
            return self._relayed(request_id, Vote(approver=approver, decision=decision, at=now, channel=channel))
        voter = self._policy.identities.resolve(channel, approver)
        blocked = self._vote_blocked(request, voter, decision, now=now)
        if blocked is not None:
            return blocked
        if decision is VoteDecision.APPROVE and voter.person in request.approvers():
            return NeedsAnotherApprover(request, len(request.approvers()), request.required_approvals, repeated=True)
        self._repo.add_vote(request_id, Vote(approver=voter.person, decision=decision, at=now, channel=channel))
        self._emit(ApprovalEvent.VOTE_RECORDED, request, decision=decision.value, **_who(voter))
        if decision is VoteDecision.REJECT:
            return self._finish_reject(request, now)
        return self._count_approvals(request, now)

    def _relayed(self, request_id: str, vote: Vote) -> VoteResult:
        """A vote for a request another cluster owns: handed over (and audited here, in this
        cluster's chain, as received and relayed), or NotFound when no cluster has it."""
        owner = self._relay.relay(request_id, vote) if self._relay is not None else None
        if owner is None:
            return NotFound(request_id)
        self._audit(
            ApprovalEvent.VOTE_RELAYED,
            {
                "request_id": request_id,
                "owner_cluster": owner,
                "approver": vote.approver,
                "decision": vote.decision.value,
                "channel": vote.channel.value,
            },
        )
        return Relayed(request_id, owner)

    def _vote_blocked(
        self, request: ApprovalRequest, voter: Voter, decision: VoteDecision, *, now: datetime
    ) -> VoteResult | None:
        """The answer when the vote cannot count at all: decided, expired, or not allowed."""
        if request.state is S.EXPIRED:
            return Expired(request)
        if request.state is not S.PENDING:
            return AlreadyDecided(request)
        if is_past_deadline(request, now):
            self._expire(request, now)
            return Expired(self._reload(request))
        refusal = self._policy.check_voter(request, voter, decision)
        if refusal is None:
            return None
        self._emit(ApprovalEvent.VOTE_REFUSED, request, decision=decision.value, reason=refusal.reason, **_who(voter))
        return NotAllowed(refusal.reason, request)

    def _finish_reject(self, request: ApprovalRequest, now: datetime) -> VoteResult:
        if not self._move(request.id, S.REJECTED, now=now, rejected_by=self._reload(request).rejecters()):
            return AlreadyDecided(self._reload(request))
        return Rejected(self._reload(request))

    def _count_approvals(self, request: ApprovalRequest, now: datetime) -> VoteResult:
        current = self._reload(request)
        approvers = current.approvers()
        if len(approvers) < current.required_approvals:
            self._notifier.publish(current)
            return NeedsAnotherApprover(current, len(approvers), current.required_approvals)
        waited = max(0.0, (now - current.created_at).total_seconds())
        if not self._move(request.id, S.APPROVED, now=now, approved_by=approvers, waited_seconds=waited):
            return AlreadyDecided(self._reload(request))
        return Approved(self._reload(request))

    def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        """Expire every pending request past its deadline; returns the ones this call expired."""
        expired: list[ApprovalRequest] = []
        for request in self._repo.due_for_expiry(now):
            if self._expire(request, now):
                expired.append(self._reload(request))
        return expired

    def _expire(self, request: ApprovalRequest, now: datetime) -> bool:
        return self._move(
            request.id,
            S.EXPIRED,
            now=now,
            deadline=request.deadline.isoformat(),
            escalated_to=self._settings.escalation_mention,
        )

    def mark_executing(self, request_id: str, *, now: datetime) -> bool:
        """Claim an approved request for execution; True for exactly one caller."""
        return self._move(request_id, S.EXECUTING, now=now)

    def mark_succeeded(self, request_id: str, *, now: datetime, result: str, undo_available: bool = False) -> bool:
        """Record a verified success; the thread gets the result and, when possible, Undo."""
        return self._move(request_id, S.SUCCEEDED, now=now, result=result, undo_available=undo_available)

    def mark_failed(self, request_id: str, *, now: datetime, result: str, undo_available: bool = False) -> bool:
        """Record a failed execution with what went wrong."""
        return self._move(request_id, S.FAILED, now=now, result=result, undo_available=undo_available)

    def reask(self, request_id: str, risk: RiskScore, *, now: datetime, reason: str) -> ApprovalRequest | None:
        """Re-validation failed: supersede the approved request and ask again with the new risk.
        Returns the new pending request, or None when the old one was not approved/claimed."""
        old = self._repo.get(request_id)
        if old is None or not self._move(request_id, S.SUPERSEDED, now=now, result=reason):
            return None
        fresh = old.model_copy(
            update={
                "id": self._new_id(),
                "risk": risk.as_json(),
                "required_approvals": required_approvals(risk.total, self._settings),
                "created_at": now,
                "deadline": now + timedelta(seconds=self._settings.timeout_seconds),
                "state": S.PENDING,
                "updated_at": now,
                "slack_channel": None,
                "slack_ts": None,
                "votes": (),
                "result": None,
                "undo_available": False,
            }
        )
        return self._create(fresh)

    def _move(
        self,
        request_id: str,
        to_state: ApprovalState,
        *,
        now: datetime,
        result: str | None = None,
        undo_available: bool | None = None,
        **details: Any,
    ) -> bool:
        """Every transition: a compare-and-set from the states `TRANSITIONS` allows into
        `to_state`, then its event and the message update. False when another caller moved the
        request first (or it is in a state from which `to_state` is not allowed)."""
        won = self._repo.transition(
            request_id, sources_of(to_state), to_state, at=now, result=result, undo_available=undo_available
        )
        if not won:
            return False
        moved = self._repo.get(request_id)
        if moved is None:
            return True
        if result is not None:
            details["result"] = result
        self._emit(EVENT_OF[to_state], moved, **details)
        self._notifier.publish(moved)
        if to_state in (S.SUCCEEDED, S.FAILED):
            self._notifier.publish_result(moved)
        return True

    def _reload(self, request: ApprovalRequest) -> ApprovalRequest:
        return self._repo.get(request.id) or request

    def _emit(self, event: ApprovalEvent, request: ApprovalRequest, **details: Any) -> None:
        payload: dict[str, Any] = {
            "request_id": request.id,
            "incident_id": request.incident_id,
            "action": request.action.value,
            "target": str(request.target),
            "state": request.state.value,
        }
        payload.update(details)
        self._audit(event, payload)
