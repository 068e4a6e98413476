"""Mattermost messages for approval requests (pure), and the per-request button tokens.

Every piece of alert- or model-derived text is shown inside an inline code span, where
Mattermost renders no mention, link or formatting. Buttons carry a context that Mattermost's
server keeps to itself (it strips action integrations from posts sent to clients): the request
id, the vote, an expiry and an HMAC over them, so a callback can only vote the way the button
that Scutum posted says, on that request, until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from typing import Any

from approvals.model import ApprovalRequest, ApprovalState, VoteDecision
from approvals.queue import (
    AlreadyDecided,
    Approved,
    Expired,
    NeedsAnotherApprover,
    NotAllowed,
    NotFound,
    Rejected,
    Relayed,
    VoteResult,
)

MAX_CODE_SPAN = 500
_VISIBLE = {"Cc": " ", "Cf": ""}
"""Control characters become spaces; format characters (bidi overrides, zero-width) go."""
_HEADLINES: dict[ApprovalState, str] = {
    ApprovalState.PENDING: "Approval needed",
    ApprovalState.APPROVED: "Approved",
    ApprovalState.REJECTED: "Rejected",
    ApprovalState.EXPIRED: "Expired",
    ApprovalState.EXECUTING: "Executing",
    ApprovalState.SUCCEEDED: "Succeeded",
    ApprovalState.FAILED: "Failed",
    ApprovalState.SUPERSEDED: "Superseded",
}
_COLORS = {ApprovalState.PENDING: "#e8a317", ApprovalState.SUCCEEDED: "#2eb886", ApprovalState.FAILED: "#d00000"}


def code(text: str) -> str:
    """Untrusted text as an inline code span: one line, no backticks, no control or bidi
    characters (they could reorder what an approver reads), bounded."""
    visible = (_VISIBLE.get(unicodedata.category(ch), ch) for ch in text.replace("`", "'"))
    flat = " ".join("".join(visible).split())
    if len(flat) > MAX_CODE_SPAN:
        flat = flat[: MAX_CODE_SPAN - 1] + "…"
    return f"`{flat}`" if flat else "` `"


def action_token(secret: str, *, request_id: str, vote: VoteDecision, expires: int) -> str:
    """HMAC-SHA256 over the request, the vote and the expiry (unix seconds)."""
    message = f"v1:{request_id}:{vote.value}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def token_matches(secret: str, *, request_id: str, vote: VoteDecision, expires: int, token: str) -> bool:
    """Constant-time check of a button's token."""
    expected = action_token(secret, request_id=request_id, vote=vote, expires=expires)
    return hmac.compare_digest(expected, token)


def _button(request: ApprovalRequest, vote: VoteDecision, *, callback_url: str, secret: str) -> dict[str, Any]:
    expires = int(request.deadline.timestamp())
    token = action_token(secret, request_id=request.id, vote=vote, expires=expires)
    return {
        "id": vote.value,  # Mattermost wants an alphanumeric id
        "name": "Approve" if vote is VoteDecision.APPROVE else "Reject",
        "style": "primary" if vote is VoteDecision.APPROVE else "danger",
        "integration": {
            "url": callback_url,
            "context": {"request_id": request.id, "vote": vote.value, "expires": expires, "token": token},
        },
    }


def _risk_text(request: ApprovalRequest) -> str:
    lines = [f"**Risk {request.risk_total:.2f}** (approval needed at {request.threshold:.2f} or above)"]
    components: dict[str, Any] = request.risk.get("components", {})
    for name, part in components.items():
        reasons = "; ".join(str(r) for r in part.get("reasons", [])) or "no findings"
        lines.append(f"- {code(name)} {float(part['score']):.2f}: {code(reasons)}")
    return "\n".join(lines)


def _status(request: ApprovalRequest) -> str:
    approvers = ", ".join(code(p) for p in request.approvers()) or "nobody"
    match request.state:
        case ApprovalState.PENDING:
            return f"Needs {request.required_approvals} approver(s); approved so far by {approvers}."
        case ApprovalState.REJECTED:
            return "Rejected by " + (", ".join(code(p) for p in request.rejecters()) or "nobody") + "."
        case ApprovalState.EXPIRED:
            return "No decision before the deadline; the action will not run. Escalating to on-call."
        case ApprovalState.SUPERSEDED:
            return f"Not run: {code(request.result or 'the risk changed')}. A new request follows."
        case ApprovalState.APPROVED | ApprovalState.EXECUTING:
            return f"Approved by {approvers}."
        case ApprovalState.SUCCEEDED | ApprovalState.FAILED:
            return f"Approved by {approvers}. Result: {code(request.result or 'no detail')}"


def request_post(request: ApprovalRequest, *, callback_url: str, secret: str) -> dict[str, Any]:
    """The post's `message` and `props` for a request in its current state (buttons only while pending)."""
    headline = f"#### {_HEADLINES[request.state]}: {code(request.action.value)} on {code(str(request.target))}"
    params = json.dumps(request.params, sort_keys=True)
    text = "\n".join(
        [
            *([f"**Cluster** {code(request.cluster)}"] if request.cluster != "default" else []),
            f"**Incident** {code(request.incident_id)}: {code(request.incident_summary)}",
            f"**Parameters** {code(params)}",
            f"**Deadline** {request.deadline.isoformat()} · **Approvers needed** {request.required_approvals}",
            _risk_text(request),
            _status(request),
            f"request {code(request.id)}",
        ]
    )
    attachment: dict[str, Any] = {
        "fallback": f"{_HEADLINES[request.state]}: {request.action.value} (risk {request.risk_total:.2f})",
        "color": _COLORS.get(request.state, "#808080"),
        "text": text,
    }
    if request.state is ApprovalState.PENDING:
        attachment["actions"] = [
            _button(request, vote, callback_url=callback_url, secret=secret)
            for vote in (VoteDecision.APPROVE, VoteDecision.REJECT)
        ]
    return {"message": headline, "props": {"attachments": [attachment]}}


def result_text(request: ApprovalRequest) -> str:
    """The thread reply with the execution result."""
    word = "succeeded" if request.state is ApprovalState.SUCCEEDED else "failed"
    undo = " Undo is offered in Slack and the CLI." if request.undo_available else ""
    return f"{code(request.action.value)} on {code(str(request.target))} {word}: {code(request.result or '')}.{undo}"


def vote_text(result: VoteResult) -> str:
    """What the voter is told (ephemeral)."""
    match result:
        case Approved():
            text = "Approved: the action will run after a final check of the cluster."
        case Rejected():
            text = "Rejected: the action will not run."
        case NeedsAnotherApprover(approvals=approvals, required=required, repeated=repeated):
            already = "You had already approved. " if repeated else ""
            text = f"{already}{approvals} of {required} different approvers so far; another must approve."
        case NotAllowed(reason=reason):
            text = f"Your vote was not accepted: {code(reason)}. Nothing was run."
        case Expired():
            text = "This request has expired; nothing was run."
        case AlreadyDecided(request=request):
            text = f"Already decided ({request.state.value}); your vote changed nothing."
        case NotFound():
            text = "No such request."
        case Relayed(cluster=cluster):
            text = f"Your vote was handed to cluster {code(cluster)}, which owns this request."
    return text
