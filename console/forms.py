"""The console's state-changing requests: approve/reject, pause/resume, verify the chain.

Each needs the proxy's identity and a CSRF token issued to that identity. Votes go through
`ApprovalQueue.vote` with the console channel: the same who-may-approve policy, two-approver
band, expiry, audit and (at execution) re-validation as Slack and the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from approvals.model import VoteChannel, VoteDecision
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
from console.auth import Viewer

if TYPE_CHECKING:
    from console.app import Console

AsyncHandler = Callable[[Request], Awaitable[Response]]
MAX_FORM_BYTES = 16 * 1024
MAX_REASON_CHARS = 500


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form, bounded; anything else is an empty form (and so fails the CSRF check)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES or not request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return {}
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


def _gate(console: Console, request: Request, form: dict[str, str], what: str, details: dict[str, str]) -> Viewer | str:
    """The signed-in viewer when identity and CSRF token hold, else why not (audited)."""
    viewer = console.viewer(request)
    if viewer.user is None:
        reason = "no signed-in user (the authenticating proxy's header is missing)"
    elif not console.csrf.check(viewer.user, form.get("csrf", ""), console.deps.clock()):
        reason = "missing or invalid CSRF token"
    else:
        return viewer
    console.audit_refusal(what, user=viewer.user, reason=reason, details=details)
    return reason


def vote(console: Console) -> AsyncHandler:
    """POST /approvals/{id}/vote with decision=approve|reject."""

    async def handler(request: Request) -> Response:
        form = await _form(request)
        request_id = str(request.path_params["request_id"])[:64]
        decision_text = form.get("decision", "")
        gate = await run_in_threadpool(
            _gate, console, request, form, "vote", {"request_id": request_id, "decision": decision_text[:16]}
        )
        show = console.approvals_page
        if isinstance(gate, str):
            return await run_in_threadpool(show, request, f"Refused: {gate}.", 403)
        if decision_text not in (VoteDecision.APPROVE.value, VoteDecision.REJECT.value):
            return await run_in_threadpool(show, request, "Refused: the decision must be approve or reject.", 400)
        assert gate.user is not None
        result = await run_in_threadpool(
            console.deps.approvals.vote,
            request_id,
            gate.user,
            VoteDecision(decision_text),
            channel=VoteChannel.CONSOLE,
            now=console.deps.clock(),
        )
        text, status = describe(result)
        return await run_in_threadpool(show, request, text, status)

    return handler


def describe(result: VoteResult) -> tuple[str, int]:
    """What a vote did, for the person who cast it, and the HTTP status of the answer."""
    match result:
        case Approved(request=r):
            answer = f"Approved {r.id}: the action will run after re-validation.", 200
        case Rejected(request=r):
            answer = f"Rejected {r.id}: the action will not run.", 200
        case NeedsAnotherApprover(approvals=have, required=need, repeated=True):
            answer = f"You already approved this; the same person twice is one approval ({have} of {need}).", 409
        case NeedsAnotherApprover(approvals=have, required=need):
            answer = f"Approval recorded ({have} of {need}); a different approver must also approve.", 200
        case NotAllowed(reason=reason):
            answer = f"Refused: {reason}.", 403
        case Expired(request=r):
            answer = f"{r.id} expired; it can no longer be decided.", 409
        case AlreadyDecided(request=r):
            answer = f"{r.id} is already {r.state.value}.", 409
        case NotFound(request_id=request_id):
            answer = f"No approval request {request_id}.", 404
        case Relayed(request_id=request_id, cluster=cluster):
            answer = f"{request_id} belongs to cluster {cluster}: the vote was handed to it.", 202
    return answer


def control(console: Console) -> AsyncHandler:
    """POST /control with action=pause|resume and a reason (required to pause)."""

    async def handler(request: Request) -> Response:
        form = await _form(request)
        action = form.get("action", "")
        reason = form.get("reason", "").strip()[:MAX_REASON_CHARS]
        gate = await run_in_threadpool(_gate, console, request, form, "control", {"action": action[:16]})
        if isinstance(gate, str):
            return await run_in_threadpool(console.message, request, "Refused", f"Refused: {gate}.", 403)
        assert gate.user is not None
        if not gate.may_act:
            await run_in_threadpool(
                console.audit_refusal, "control", user=gate.user, reason=gate.refusal, details={"action": action[:16]}
            )
            return await run_in_threadpool(console.message, request, "Refused", f"Refused: {gate.refusal}.", 403)
        by = f"console:{gate.user}"
        if action == "pause":
            if not reason:
                return await run_in_threadpool(
                    console.message, request, "Refused", "A reason is required to pause.", 400
                )
            await run_in_threadpool(lambda: console.deps.kill_switch.pause(reason=reason, by=by))
        elif action == "resume":
            await run_in_threadpool(lambda: console.deps.kill_switch.resume(by=by, reason=reason))
        else:
            return await run_in_threadpool(
                console.message, request, "Refused", "The action must be pause or resume.", 400
            )
        return RedirectResponse(f"{request.scope.get('root_path', '')}/reports", status_code=303)

    return handler


def verify(console: Console) -> AsyncHandler:
    """POST /evidence/verify: check the whole chain now (signed-in users; it reads every record)."""

    async def handler(request: Request) -> Response:
        form = await _form(request)
        gate = await run_in_threadpool(_gate, console, request, form, "verify", {})
        if isinstance(gate, str):
            return await run_in_threadpool(console.message, request, "Refused", f"Refused: {gate}.", 403)
        report = await run_in_threadpool(console.deps.audit.verify)
        console.verified.report, console.verified.at = report, console.deps.clock()
        return RedirectResponse(f"{request.scope.get('root_path', '')}/evidence", status_code=303)

    return handler
