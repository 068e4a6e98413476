"""The Mattermost approval channel: requests posted by a bot with Approve/Reject buttons, votes
taken from the buttons' callbacks.

Votes go through the same `ApprovalQueue.vote` as Slack and the CLI: the same allowlist (a
Mattermost user counts under the person `approvals.people` or `approvals.mattermost_approvers`
maps them to, see approvals/identity.py), the
same two-approver band, expiry, re-validation before execution, and audit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from approvals.mattermost_render import request_post, result_text, token_matches, vote_text
from approvals.model import ApprovalRequest, MessageRefs, VoteChannel, VoteDecision
from approvals.queue import AlreadyDecided, Expired, NotFound, VoteResult
from approvals.settings import MattermostSettings

log = structlog.get_logger(__name__)

AuditSink = Callable[[str, dict[str, Any]], None]
CHANNEL = "mattermost"
MAX_CALLBACK_BYTES = 64 * 1024
"""A button callback is a few hundred bytes; anything larger is refused before parsing."""
REFUSAL_WINDOW_SECONDS = 60.0


class MattermostChannel:
    """Posts and updates request messages through Mattermost's REST API (never raises)."""

    def __init__(
        self, settings: MattermostSettings, *, refs: MessageRefs, audit: AuditSink, client: httpx.Client | None = None
    ) -> None:
        self._settings = settings
        self._refs = refs
        self._audit = audit
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)
        self._base = settings.url.rstrip("/") + "/api/v4"
        self._headers = {"Authorization": f"Bearer {settings.bot_token.get_secret_value()}"}

    def publish(self, request: ApprovalRequest) -> None:
        """Post the request, or update its post to show the current state."""
        post = request_post(
            request,
            callback_url=self._settings.callback_url,
            secret=self._settings.action_secret.get_secret_value(),
        )
        ref = self._refs.get_ref(request.id, CHANNEL)
        if ref is not None:
            self._call("PUT", f"/posts/{ref}/patch", request, post)
            return
        created = self._call("POST", "/posts", request, {"channel_id": self._settings.channel_id, **post})
        if created is not None and isinstance(created.get("id"), str):
            self._refs.set_ref(request.id, CHANNEL, created["id"])

    def publish_result(self, request: ApprovalRequest) -> None:
        """Reply in the post's thread with the execution result."""
        ref = self._refs.get_ref(request.id, CHANNEL)
        body: dict[str, Any] = {"channel_id": self._settings.channel_id, "message": result_text(request)}
        if ref is not None:
            body["root_id"] = ref
        self._call("POST", "/posts", request, body)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, request: ApprovalRequest, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            response = self._client.request(method, self._base + path, json=body, headers=self._headers)
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("mattermost_call_failed", path=path, request=request.id, error=detail)
            self._audit(
                "mattermost_call_failed",
                {"request_id": request.id, "incident_id": request.incident_id, "error": detail},
            )
            return None
        return answer if isinstance(answer, dict) else None


class ButtonContext(BaseModel):
    """What Scutum put in the button (Mattermost's server keeps it from clients)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=64)
    vote: VoteDecision
    expires: int = Field(ge=0)
    token: str = Field(pattern=r"^[0-9a-f]{64}$")


class ActionCallback(BaseModel):
    """The fields of Mattermost's interactive-message callback that Scutum reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str = Field(pattern=r"^[a-z0-9]{26}$")
    post_id: str | None = Field(default=None, max_length=64)
    context: ButtonContext


class MattermostActions:
    """`POST /mattermost/actions`: checks the button's token, maps the user, votes, answers at once."""

    def __init__(
        self,
        settings: MattermostSettings,
        *,
        vote: Callable[..., VoteResult],
        audit: AuditSink,
    ) -> None:
        self._secret = settings.action_secret.get_secret_value()
        self._vote = vote
        self._audit = audit
        self._refused = 0
        self._window_start: datetime | None = None
        self._lock = threading.Lock()

    def handle(self, raw_body: bytes, now: datetime) -> tuple[int, dict[str, Any]]:
        """(status, JSON answer). 413/400/401 for what is not a genuine button; 200 with an
        ephemeral text for every vote, counted or not."""
        if len(raw_body) > MAX_CALLBACK_BYTES:
            self._refuse("payload too large", now)
            return 413, {"error": "payload too large"}
        try:
            callback = ActionCallback.model_validate_json(raw_body)
        except ValidationError as exc:
            self._refuse(f"malformed callback: {exc.error_count()} error(s)", now)
            return 400, {"error": "malformed callback"}
        button = callback.context
        if not token_matches(
            self._secret, request_id=button.request_id, vote=button.vote, expires=button.expires, token=button.token
        ):
            self._refuse("bad button token", now)
            return 401, {"error": "invalid button"}
        user = callback.user_id
        if now.timestamp() > button.expires:
            result: VoteResult = NotFound(button.request_id)
            self._audit(
                "mattermost_vote_refused",
                {"request_id": button.request_id, "user": user, "reason": "expired button"},
            )
            return 200, {"ephemeral_text": "This button has expired; nothing was run."}
        # The queue maps the Mattermost user to a person and checks that person may approve.
        result = self._vote(button.request_id, user, button.vote, channel=VoteChannel.MATTERMOST, now=now)
        if isinstance(result, Expired | AlreadyDecided | NotFound):
            reason = type(result).__name__
            self._audit("mattermost_vote_refused", {"request_id": button.request_id, "user": user, "reason": reason})
        return 200, {"ephemeral_text": vote_text(result)}

    def flush(self, now: datetime) -> None:
        """Record the refusals counted since the last record once their window has passed (the
        daemon calls this on a schedule, so the tail of a flood that stops is written too)."""
        with self._lock:
            if self._refused == 0 or self._window_start is None:
                return
            if (now - self._window_start).total_seconds() < REFUSAL_WINDOW_SECONDS:
                return
            count, self._window_start, self._refused = self._refused, now, 0
        self._audit(
            "mattermost_request_rejected",
            {
                "reason": "refused since the last record",
                "refused_since_last_record": count,
                "window_seconds": REFUSAL_WINDOW_SECONDS,
            },
        )

    def _refuse(self, reason: str, now: datetime) -> None:
        """Unauthenticated noise is aggregated: one audit record per window, with the count."""
        with self._lock:
            if self._window_start is not None and (now - self._window_start).total_seconds() < REFUSAL_WINDOW_SECONDS:
                self._refused += 1
                return
            count, self._window_start, self._refused = self._refused, now, 0
        self._audit(
            "mattermost_request_rejected",
            {"reason": reason, "refused_since_last_record": count, "window_seconds": REFUSAL_WINDOW_SECONDS},
        )
