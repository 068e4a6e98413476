"""Block Kit messages for approval requests: pure functions of plain data, no Slack imports.

Buttons carry only the request ID; everything else is read back from the store on click.
Text that came from outside (alert labels, model output, API errors) is shown through
`literal`: cleaned, escaped and set in an inline code span, so it cannot mention, link or
format; every mrkdwn object is `verbatim` (Slack does not auto-link names or URLs in it).
"""

from __future__ import annotations

import json
import re
from typing import Any

from actions.untrusted import clean_text
from approvals.model import ApprovalRequest, ApprovalState, VoteChannel
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

Message = dict[str, Any]
"""A chat.postMessage / chat.update payload without the channel: {"text", "blocks"}."""

APPROVE_ACTION_ID = "scutum_approve"
REJECT_ACTION_ID = "scutum_reject"
UNDO_ACTION_ID = "scutum_undo"

_MAX_SECTION = 2900
_HEADLINES: dict[ApprovalState, str] = {
    ApprovalState.PENDING: ":raising_hand: Approval needed",
    ApprovalState.APPROVED: ":white_check_mark: Approved",
    ApprovalState.REJECTED: ":no_entry: Rejected",
    ApprovalState.EXPIRED: ":hourglass: Expired",
    ApprovalState.EXECUTING: ":gear: Executing",
    ApprovalState.SUCCEEDED: ":white_check_mark: Succeeded",
    ApprovalState.FAILED: ":x: Failed",
    ApprovalState.SUPERSEDED: ":leftwards_arrow_with_hook: Superseded",
}


_CHANNEL_NAMES = {
    VoteChannel.SLACK: "Slack",
    VoteChannel.CLI: "CLI",
    VoteChannel.MATTERMOST: "Mattermost",
    VoteChannel.CONSOLE: "console",
}
_BACKTICK_LOOKALIKE = "\u02cb"
"""Stands in for a backtick inside untrusted text, which would otherwise end a code span."""
MAX_LITERAL_CHARS = 500
"""Longest piece of untrusted text shown in one place of a message."""


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: str, *, limit: int = MAX_LITERAL_CHARS) -> str:
    """Untrusted text shown as itself: cleaned, escaped, in an inline code span (so no bold,
    italics, strike, links or mentions); a backtick inside becomes a look-alike."""
    cleaned = escape(clean_text(text, limit=limit)).replace("`", _BACKTICK_LOOKALIKE).strip()
    return f"`{cleaned}`" if cleaned else "`-`"


def plain(text: str, *, limit: int = MAX_LITERAL_CHARS) -> str:
    """Untrusted text for plain_text objects and notification fallbacks: cleaned and escaped."""
    return escape(clean_text(text, limit=limit))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_SECTION else text[: _MAX_SECTION - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_clip(text))}


def _slack_date(request: ApprovalRequest) -> str:
    epoch = int(request.deadline.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{request.deadline.isoformat()}>"


_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
"""A vote counts under a person's name from `approvals.people` or under a Slack user ID; only the
latter can be a mention."""


def _who(request: ApprovalRequest, person: str) -> str:
    """A Slack mention for people who voted in Slack as themselves, the plain name otherwise."""
    channels = {v.channel for v in request.votes if v.approver == person}
    if VoteChannel.SLACK in channels and _SLACK_USER_ID.fullmatch(person):
        return f"<@{escape(clean_text(person, limit=40))}>"
    where = ", ".join(_CHANNEL_NAMES[c] for c in sorted(channels)) or "CLI"
    return f"{literal(person, limit=80)} ({where})"


def _people(request: ApprovalRequest, people: list[str]) -> str:
    return ", ".join(_who(request, p) for p in people) or "nobody"


def _risk_lines(request: ApprovalRequest) -> str:
    lines = [f"*Risk {request.risk_total:.2f}* (approval needed at {request.threshold:.2f} or above)"]
    components: dict[str, Any] = request.risk.get("components", {})
    for name, part in components.items():
        reasons = "; ".join(literal(str(r)) for r in part.get("reasons", [])) or "no findings"
        lines.append(f"• `{name}` {float(part['score']):.2f}: {reasons}")
    return "\n".join(lines)


def _pending_status(request: ApprovalRequest) -> str | None:
    if request.required_approvals == 1:
        return None
    approvers = request.approvers()
    need = request.required_approvals
    return f"Needs {need} different approvers: {len(approvers)} of {need} so far ({_people(request, approvers)})."


def _status_line(request: ApprovalRequest, escalation_mention: str | None) -> str | None:
    state = request.state
    if state is ApprovalState.PENDING:
        return _pending_status(request)
    if state in (ApprovalState.APPROVED, ApprovalState.EXECUTING):
        return f"Approved by {_people(request, request.approvers())}."
    if state is ApprovalState.REJECTED:
        return f"Rejected by {_people(request, request.rejecters())}."
    if state is ApprovalState.EXPIRED:
        who = f" Escalating to {escalation_mention}." if escalation_mention else " Escalating to on-call."
        return "No decision before the deadline; the action will not run." + who
    if state is ApprovalState.SUPERSEDED:
        return f"Not run: {literal(request.result or 'the risk changed')}. A new request follows."
    verb = "Result" if state is ApprovalState.SUCCEEDED else "Error"
    approved = f"Approved by {_people(request, request.approvers())}. "
    return f"{approved}{verb}: {literal(request.result or 'no detail')}"


def _buttons(request: ApprovalRequest) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "scutum_decision",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION_ID,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": request.id,
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION_ID,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": request.id,
            },
        ],
    }


def _cluster_prefix(request: ApprovalRequest) -> str:
    """`*Cluster* name · ` when the request is not the default cluster's: one Slack app may
    serve a fleet, and the approver must see which cluster the action would touch."""
    if request.cluster == "default":
        return ""
    return f"*Cluster* {literal(request.cluster, limit=63)} · "


def request_message(request: ApprovalRequest, *, escalation_mention: str | None = None) -> Message:
    """The channel message for a request in its current state (buttons only while pending)."""
    headline = f"{_HEADLINES[request.state]}: {request.action.value} on {plain(str(request.target), limit=120)}"
    params = clean_text(json.dumps(request.params, indent=2, sort_keys=True), limit=2000, multiline=True)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
        _section(
            f"{_cluster_prefix(request)}*Incident* {literal(request.incident_id)}: {literal(request.incident_summary)}"
        ),
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Action*\n`{request.action.value}`"),
                _mrkdwn(f"*Target*\n{literal(str(request.target))}"),
                _mrkdwn(f"*Deadline*\n{_slack_date(request)}"),
                _mrkdwn(f"*Approvers needed*\n{request.required_approvals}"),
            ],
        },
        _section(f"*Parameters*\n```{escape(params).replace('`', _BACKTICK_LOOKALIKE)}```"),
        _section(_risk_lines(request)),
    ]
    status = _status_line(request, escalation_mention)
    if status is not None:
        blocks.append(_section(status))
    if request.state is ApprovalState.PENDING:
        blocks.append(_buttons(request))
    by = request.requested_by
    requested = f" · requested by <@{escape(clean_text(by, limit=40))}>" if by else ""
    blocks.append({"type": "context", "elements": [_mrkdwn(f"request {literal(request.id)}{requested}")]})
    text = f"{headline} (risk {request.risk_total:.2f})"
    if request.state is ApprovalState.EXPIRED and escalation_mention:
        text += f" {escalation_mention}"
    return {"text": text, "blocks": blocks}


def result_reply(request: ApprovalRequest) -> Message:
    """The thread reply with the execution result, with an Undo button when an inverse exists."""
    ok = request.state is ApprovalState.SUCCEEDED
    icon = ":white_check_mark:" if ok else ":x:"
    word = "succeeded" if ok else "failed"
    text = f"{icon} `{request.action.value}` on {literal(str(request.target))} {word}: {literal(request.result or '')}"
    blocks: list[dict[str, Any]] = [_section(text)]
    if request.undo_available:
        blocks.append(
            {
                "type": "actions",
                "block_id": "scutum_undo",
                "elements": [
                    {
                        "type": "button",
                        "action_id": UNDO_ACTION_ID,
                        "text": {"type": "plain_text", "text": "Undo"},
                        "value": request.id,
                    }
                ],
            }
        )
        blocks.append(
            {
                "type": "context",
                "elements": [_mrkdwn("Undo is a new proposal: it is scored and may need approval.")],
            }
        )
    return {"text": f"{request.action.value} {word}", "blocks": blocks}


def not_allowed_reply(reason: str) -> Message:
    """The ephemeral reply to someone whose click was refused."""
    text = f":no_entry_sign: Your click was not accepted: {plain(reason)}. Nothing was run."
    return {"text": text, "blocks": [_section(text)]}


def vote_feedback(result: VoteResult) -> Message | None:
    """An ephemeral reply to the clicker, or None when the updated message says it all."""
    match result:
        case NotAllowed(reason=reason):
            return not_allowed_reply(reason)
        case NeedsAnotherApprover(approvals=have, required=need, repeated=True):
            text = f"You already approved this. The same person twice is one approval: {have} of {need}."
        case NeedsAnotherApprover(approvals=have, required=need):
            text = f"Your approval counted ({have} of {need}). A different approver must also approve."
        case Expired():
            text = "This request has expired and can no longer be approved."
        case AlreadyDecided(request=request):
            text = f"This request was already decided: it is {request.state.value}."
        case NotFound(request_id=request_id):
            text = f"No approval request {literal(request_id, limit=80)} exists."
        case Relayed(cluster=cluster):
            text = f"Your vote was handed to cluster {literal(cluster, limit=63)}, which owns this request."
        case Approved() | Rejected():
            return None
    return {"text": text, "blocks": [_section(text)]}
