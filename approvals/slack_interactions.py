"""Button clicks from Slack: the typed payload, the shared click logic, the HTTP-mode
endpoint (signature and timestamp checks) and the Socket Mode runner.

HTTP mode: the agent mounts `SlackInteractions.accept` at POST /slack/events: it checks the
body (strict UTF-8, bounded JSON), the timestamp, the signature and replays, answers at once,
and returns the click as a job for the decision queue. Socket Mode: `socket_mode_handler`
builds a slack_bolt app whose listener acks and hands the same job to the same queue.
Every refused request and every refused click leaves an audit record.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import from_json
from slack_sdk.signature import Clock, SignatureVerifier

from actions.untrusted import clean_text
from approvals.authz import ApproverPolicy
from approvals.model import VoteChannel, VoteDecision
from approvals.queue import (
    AlreadyDecided,
    ApprovalQueue,
    AuditSink,
    Expired,
    NeedsAnotherApprover,
    NotFound,
    Relayed,
    VoteResult,
)
from approvals.render import APPROVE_ACTION_ID, REJECT_ACTION_ID, UNDO_ACTION_ID, not_allowed_reply, vote_feedback
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

Submit = Callable[[Callable[[], None]], bool]
"""Hands a job to the decision queue; False when the queue is full."""

MAX_SLACK_TEXT = 200
"""Longest untrusted value (an ID, a header) kept in an audit record of a Slack refusal."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
MAX_JSON_DEPTH = 32
"""Deepest nesting accepted in an interaction payload."""


def _refused_vote(result: VoteResult) -> str | None:
    """Why a vote changed nothing (NotAllowed is recorded by the queue itself), else None."""
    match result:
        case NeedsAnotherApprover(repeated=True):
            return "repeat vote"
        case Expired():
            return "expired"
        case AlreadyDecided(request=request):
            return f"already decided ({request.state.value})"
        case NotFound():
            return "unknown request id"
        case Relayed():
            return None
    return None


class ClickHandler:
    """What a click means, the same for HTTP mode and Socket Mode."""

    def __init__(
        self,
        queue: ApprovalQueue,
        channel: SlackChannel,
        *,
        on_undo: UndoRequested | None = None,
        policy: ApproverPolicy | None = None,
        audit: AuditSink | None = None,
    ) -> None:
        self._queue = queue
        self._channel = channel
        self._on_undo = on_undo
        self._policy = policy
        self._audit = audit

    def handle(self, payload: BlockActions, *, now: datetime) -> None:
        """Apply every Scutum button in the payload (Slack sends one per click)."""
        for action in payload.actions:
            self._handle_one(payload, action, now=now)

    def _handle_one(self, payload: BlockActions, action: ButtonAction, *, now: datetime) -> None:
        user = payload.user.id
        decision = _DECISIONS.get(action.action_id)
        if decision is not None:
            result = self._queue.vote(action.value, user, decision, channel=VoteChannel.SLACK, now=now)
            refused = _refused_vote(result)
            if refused is not None:
                self._record("click_refused", user, action, refused)
            feedback = vote_feedback(result)
        elif action.action_id == UNDO_ACTION_ID and self._on_undo is not None:
            refusal = self._undo_refusal(action.value, user)
            if refusal is not None:
                self._record("undo_refused", user, action, refusal)
                feedback = not_allowed_reply(refusal)
            else:
                feedback = {"text": self._on_undo(action.value, user)}
        else:
            return
        if feedback is not None and payload.channel is not None:
            self._channel.post_ephemeral(channel=payload.channel.id, user=user, message=feedback)

    def _undo_refusal(self, request_id: str, user: str) -> str | None:
        """Undo needs the authority approving needs: an unknown request or user is refused."""
        if self._queue.get(request_id) is None:
            return "unknown request id"
        if self._policy is None:
            return None
        refusal = self._policy.may_vote(user, channel=VoteChannel.SLACK)
        return refusal.reason if refusal is not None else None

    def _record(self, event: str, user: str, action: ButtonAction, reason: str) -> None:
        if self._audit is None:
            return
        details = {
            "user": clean_text(user, limit=MAX_SLACK_TEXT),
            "request_id": clean_text(action.value, limit=MAX_SLACK_TEXT),
            "action_id": clean_text(action.action_id, limit=MAX_SLACK_TEXT),
            "reason": reason,
        }
        self._audit(event, details)


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


@dataclass(frozen=True, slots=True)
class SlackAnswer:
    """What POST /slack/events answers now, and the work to do after answering."""

    status: int
    text: str
    job: Callable[[], None] | None = None


class _SeenRequests:
    """Signatures already accepted inside the timestamp window: a second one is a replay."""

    def __init__(self, *, limit: int = 10_000) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first_time(self, signature: str, timestamp: float, *, oldest: float) -> bool:
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < oldest:
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = timestamp
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
            return True


class SlackInteractions:
    """HTTP mode: verifies Slack's signature, timestamp and freshness, then hands the click
    to ClickHandler (as a job for the queue, or at once through `handle_interaction`)."""

    def __init__(
        self, settings: SlackSettings, handler: ClickHandler, *, audit: AuditSink, noise: AuditSink | None = None
    ) -> None:
        self._secret = settings.signing_secret.get_secret_value()
        self._window = settings.request_timestamp_window_seconds
        self._handler = handler
        self._audit = audit
        self._noise = noise or audit
        """Where unauthenticated refusals go (the agent aggregates them per source and interval)."""
        self._seen = _SeenRequests()

    def handle_interaction(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> tuple[int, str]:
        """Answer one POST /slack/events and apply the click before returning (tests, CLI)."""
        answer = self.accept(headers, raw_body, now)
        if answer.job is not None:
            answer.job()
        return answer.status, answer.text

    def accept(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> SlackAnswer:
        """Check one POST /slack/events: 401 for forged, stale or replayed requests, 400 for a
        body that is not UTF-8 or not a payload (each audited); else 200 and the click's job."""
        lowered = {k.lower(): v for k, v in headers.items()}
        refusal = self._verify(lowered, raw_body, now)
        if refusal is not None:
            status, reason = refusal
            self._noise(
                "slack_request_rejected",
                {
                    "reason": reason,
                    "timestamp": clean_text(lowered.get("x-slack-request-timestamp", ""), limit=40),
                    "bytes": len(raw_body),
                },
            )
            return SlackAnswer(status, "invalid request" if status == 401 else f"invalid request: {reason}")
        try:
            payload = _parse_payload(raw_body)
        except (ValueError, ValidationError) as exc:
            self._audit("slack_payload_invalid", {"error": clean_text(str(exc), limit=500)})
            return SlackAnswer(400, "invalid payload")
        if payload is None:
            return SlackAnswer(200, "")
        return SlackAnswer(200, "", lambda: self._handler.handle(payload, now=now))

    def _verify(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> tuple[int, str] | None:
        shape = self._check_shape(headers, raw_body)
        if shape is not None:
            return shape
        timestamp, signature = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
        sent = int(timestamp)
        if abs(now.timestamp() - sent) > self._window:
            return 401, "timestamp outside the allowed window"
        verifier = SignatureVerifier(self._secret, clock=_FixedClock(float(sent)))
        if not verifier.is_valid(raw_body, timestamp, signature):
            return 401, "signature mismatch"
        if not self._seen.first_time(signature, float(sent), oldest=now.timestamp() - self._window):
            return 401, "replayed request"
        return None

    def _check_shape(self, headers: Mapping[str, str], raw_body: bytes) -> tuple[int, str] | None:
        """Refusals that need no cryptography: no secret, missing or malformed headers, not UTF-8."""
        if not self._secret:
            return 401, "no signing secret configured"
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not signature or not timestamp:
            return 401, "missing signature headers"
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return 401, "malformed signature headers"
        try:
            raw_body.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            return 400, "body is not UTF-8"
        return None


def _parse_payload(raw_body: bytes) -> BlockActions | None:
    """The block_actions payload in the form field `payload`, or None for other interaction types."""
    form = parse_qs(raw_body.decode("utf-8"), strict_parsing=False, max_num_fields=20)
    if "ssl_check" in form:
        return None
    fields = form.get("payload")
    if not fields:
        raise ValueError("no payload field")
    data: Any = from_json(fields[0].encode("utf-8", errors="strict"))
    if _too_deep(data):
        raise ValueError(f"payload nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict) or data.get("type") != "block_actions":
        return None
    return BlockActions.model_validate(data)


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def socket_mode_handler(
    settings: SlackSettings,
    handler: ClickHandler,
    channel: SlackChannel,
    *,
    clock: Callable[[], datetime],
    process_before_response: bool = False,
    submit: Submit | None = None,
) -> SocketModeHandler:
    """A slack_bolt SocketModeHandler whose listener acks and applies clicks; call `.start()`
    (blocking) or `.connect()` on it. Nothing connects until then. By default the click is
    acknowledged first and applied on bolt's worker thread (Slack wants an ack within 3 s);
    `process_before_response=True` applies it before answering (tests). With `submit`, the
    click is applied on the agent's decision queue instead."""
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
        payload = BlockActions.model_validate(body)
        now = clock()
        if submit is None or not submit(lambda: handler.handle(payload, now=now)):
            handler.handle(payload, now=now)

    return SocketModeHandler(app, settings.app_token.get_secret_value())


def connect_socket_mode(
    settings: SlackSettings,
    handler: ClickHandler,
    channel: SlackChannel,
    *,
    clock: Callable[[], datetime],
    submit: Submit | None = None,
) -> Callable[[], None]:
    """Open the Socket Mode connection in the background; returns the function that closes it."""
    socket = socket_mode_handler(settings, handler, channel, clock=clock, submit=submit)
    socket.connect()  # type: ignore[no-untyped-call]

    def close() -> None:
        socket.close()  # type: ignore[no-untyped-call]

    return close
