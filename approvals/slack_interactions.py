"""Button clicks from Slack: the typed payload, the shared click logic, the HTTP-mode
endpoint (signature and timestamp checks) and the Socket Mode runner.

HTTP mode: the agent mounts `SlackInteractions.handle_interaction` at POST /slack/events.
Socket Mode: `socket_mode_handler` builds a slack_bolt app whose listener calls the same logic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from approvals.model import VoteChannel, VoteDecision
from approvals.queue import ApprovalQueue, AuditSink
from approvals.render import APPROVE_ACTION_ID, REJECT_ACTION_ID, UNDO_ACTION_ID, vote_feedback
from approvals.settings import SlackSettings
from approvals.slack import SlackChannel

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

_DECISIONS = {APPROVE_ACTION_ID: VoteDecision.APPROVE, REJECT_ACTION_ID: VoteDecision.REJECT}


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SlackUser(_Payload):
    """Who clicked."""

    id: str


class SlackChannelRef(_Payload):
    """Where the clicked message lives."""

    id: str


class ButtonAction(_Payload):
    """One clicked element; `value` carries only a request ID."""

    action_id: str
    value: str = ""
    block_id: str = ""


class BlockActions(_Payload):
    """The `block_actions` interaction payload, reduced to what a decision needs."""

    type: Literal["block_actions"]
    user: SlackUser
    channel: SlackChannelRef | None = None
    actions: list[ButtonAction]


UndoRequested = Callable[[str, str], str]
"""(request ID, Slack user ID) -> text for the clicker; the agent turns it into a new proposal."""


class ClickHandler:
    """What a click means, the same for HTTP mode and Socket Mode."""

    def __init__(self, queue: ApprovalQueue, channel: SlackChannel, *, on_undo: UndoRequested | None = None) -> None:
        self._queue = queue
        self._channel = channel
        self._on_undo = on_undo

    def handle(self, payload: BlockActions, *, now: datetime) -> None:
        """Apply every Scutum button in the payload (Slack sends one per click)."""
        for action in payload.actions:
            self._handle_one(payload, action, now=now)

    def _handle_one(self, payload: BlockActions, action: ButtonAction, *, now: datetime) -> None:
        user = payload.user.id
        decision = _DECISIONS.get(action.action_id)
        if decision is not None:
            result = self._queue.vote(action.value, user, decision, channel=VoteChannel.SLACK, now=now)
            feedback = vote_feedback(result)
        elif action.action_id == UNDO_ACTION_ID and self._on_undo is not None:
            text = self._on_undo(action.value, user)
            feedback = {"text": text}
        else:
            return
        if feedback is not None and payload.channel is not None:
            self._channel.post_ephemeral(channel=payload.channel.id, user=user, message=feedback)


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


class SlackInteractions:
    """HTTP mode: verifies Slack's signature and timestamp, then hands the click to ClickHandler."""

    def __init__(self, settings: SlackSettings, handler: ClickHandler, *, audit: AuditSink) -> None:
        self._secret = settings.signing_secret.get_secret_value()
        self._window = settings.request_timestamp_window_seconds
        self._handler = handler
        self._audit = audit

    def handle_interaction(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> tuple[int, str]:
        """Answer one POST /slack/events: 401 for forged or stale requests (audited),
        400 for a malformed payload, 200 otherwise."""
        lowered = {k.lower(): v for k, v in headers.items()}
        refusal = self._verify(lowered, raw_body, now)
        if refusal is not None:
            self._audit(
                "slack_request_rejected",
                {"reason": refusal, "timestamp": lowered.get("x-slack-request-timestamp"), "bytes": len(raw_body)},
            )
            return 401, "invalid request"
        try:
            payload = _parse_payload(raw_body)
        except (ValueError, ValidationError) as exc:
            self._audit("slack_payload_invalid", {"error": str(exc)[:500]})
            return 400, "invalid payload"
        if payload is not None:
            self._handler.handle(payload, now=now)
        return 200, ""

    def _verify(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> str | None:
        if not self._secret:
            return "no signing secret configured"
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not signature:
            return "missing signature headers"
        if abs(now.timestamp() - int(timestamp)) > self._window:
            return "timestamp outside the allowed window"
        verifier = SignatureVerifier(self._secret, clock=_FixedClock(float(timestamp)))
        if not verifier.is_valid(raw_body, timestamp, signature):
            return "signature mismatch"
        return None


def _parse_payload(raw_body: bytes) -> BlockActions | None:
    """The block_actions payload in the form field `payload`, or None for other interaction types."""
    form = parse_qs(raw_body.decode("utf-8"), strict_parsing=False)
    if "ssl_check" in form:
        return None
    fields = form.get("payload")
    if not fields:
        raise ValueError("no payload field")
    data: Any = json.loads(fields[0])
    if not isinstance(data, dict) or data.get("type") != "block_actions":
        return None
    return BlockActions.model_validate(data)


def socket_mode_handler(
    settings: SlackSettings,
    handler: ClickHandler,
    channel: SlackChannel,
    *,
    clock: Callable[[], datetime],
    process_before_response: bool = False,
) -> SocketModeHandler:
    """A slack_bolt SocketModeHandler whose listener acks and applies clicks; call `.start()`
    (blocking) or `.connect()` on it. Nothing connects until then. By default the click is
    acknowledged first and applied on bolt's worker thread (Slack wants an ack within 3 s);
    `process_before_response=True` applies it before answering (tests)."""
    from slack_bolt import Ack, App
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app = App(
        client=channel.client,
        token_verification_enabled=False,
        request_verification_enabled=False,
        process_before_response=process_before_response,
    )

    @app.action(re.compile(r"^scutum_"))
    def _on_click(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        handler.handle(BlockActions.model_validate(body), now=clock())

    return SocketModeHandler(app, settings.app_token.get_secret_value())


def connect_socket_mode(
    settings: SlackSettings, handler: ClickHandler, channel: SlackChannel, *, clock: Callable[[], datetime]
) -> Callable[[], None]:
    """Open the Socket Mode connection in the background; returns the function that closes it."""
    socket = socket_mode_handler(settings, handler, channel, clock=clock)
    socket.connect()  # type: ignore[no-untyped-call]

    def close() -> None:
        socket.close()  # type: ignore[no-untyped-call]

    return close
