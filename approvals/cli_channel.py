"""The CLI approval channel behind `scutum approvals list / approve ID --as USER / reject ID --as USER`.

It works from the store alone, so it serves when Slack is down. The same who-may-approve
rules apply (see approvals/authz.py: CLI names are `cli_approvers` plus the approver Slack
user IDs). `--as` is not authentication: whoever can run the CLI against the store is trusted,
so keep database access as tight as the approver list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from approvals.model import ApprovalRequest, ApprovalState, VoteChannel, VoteDecision
from approvals.queue import (
    AlreadyDecided,
    ApprovalQueue,
    Approved,
    Expired,
    NeedsAnotherApprover,
    NotAllowed,
    NotFound,
    Rejected,
    Relayed,
    VoteResult,
)


def request_row(request: ApprovalRequest) -> dict[str, Any]:
    """One request as the `--json` row of `scutum approvals list`."""
    return {
        "id": request.id,
        "state": request.state.value,
        "incident_id": request.incident_id,
        "summary": request.incident_summary,
        "action": request.action.value,
        "params": request.params,
        "target": str(request.target),
        "risk": request.risk,
        "threshold": request.threshold,
        "required_approvals": request.required_approvals,
        "approved_by": request.approvers(),
        "rejected_by": request.rejecters(),
        "requested_by": request.requested_by,
        "created_at": request.created_at.isoformat(),
        "deadline": request.deadline.isoformat(),
    }


def list_requests(queue: ApprovalQueue, *, state: ApprovalState | None = ApprovalState.PENDING) -> list[dict[str, Any]]:
    """Requests in one state (pending by default; None for all), oldest first."""
    return [request_row(r) for r in queue.repository.list(state=state)]


@dataclass(frozen=True)
class CliOutcome:
    """What one CLI vote did: a stable result name, a sentence for people, an exit code."""

    result: str
    message: str
    exit_code: int
    request: ApprovalRequest | None = None

    def as_json(self) -> dict[str, Any]:
        """The `--json` output of approve/reject."""
        return {
            "result": self.result,
            "message": self.message,
            "request": request_row(self.request) if self.request is not None else None,
        }


def approve(queue: ApprovalQueue, request_id: str, *, as_user: str, now: datetime) -> CliOutcome:
    """`scutum approvals approve ID --as USER`."""
    return _outcome(queue.vote(request_id, as_user, VoteDecision.APPROVE, channel=VoteChannel.CLI, now=now))


def reject(queue: ApprovalQueue, request_id: str, *, as_user: str, now: datetime) -> CliOutcome:
    """`scutum approvals reject ID --as USER`."""
    return _outcome(queue.vote(request_id, as_user, VoteDecision.REJECT, channel=VoteChannel.CLI, now=now))


def _outcome(result: VoteResult) -> CliOutcome:
    """Exit code 0 when the vote counted, 1 when it was refused or came too late."""
    request: ApprovalRequest | None = None if isinstance(result, NotFound | Relayed) else result.request
    match result:
        case Approved(request=r):
            name, msg, code = "approved", f"{r.id} approved; the action will run", 0
        case Rejected(request=r):
            name, msg, code = "rejected", f"{r.id} rejected; the action will not run", 0
        case NeedsAnotherApprover(request=r, approvals=have, required=need, repeated=True):
            name, code = "already_voted", 1
            msg = f"you already approved {r.id}; the same person twice is one approval ({have} of {need})"
        case NeedsAnotherApprover(approvals=have, required=need):
            name, code = "needs_another_approver", 0
            msg = f"approval recorded ({have} of {need}); a different approver must also approve"
        case NotAllowed(reason=reason):
            name, msg, code = "not_allowed", f"refused: {reason}", 1
        case Expired(request=r):
            name, msg, code = "expired", f"{r.id} expired at {r.deadline.isoformat()}; it can no longer be decided", 1
        case AlreadyDecided(request=r):
            name, msg, code = "already_decided", f"{r.id} is already {r.state.value}", 1
        case NotFound(request_id=request_id):
            name, msg, code = "not_found", f"no approval request {request_id}", 1
        case Relayed(request_id=request_id, cluster=cluster):
            name, msg, code = "relayed", f"{request_id} belongs to cluster {cluster}: the vote was handed to it", 0
    return CliOutcome(name, msg, code, request)
