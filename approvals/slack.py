"""The Slack Web API side: post and update request messages, thread replies, ephemeral
replies, and user-group membership. One of the two modules that import slack_sdk.

Calls are retried with backoff on 5xx, connection errors and rate limiting (honouring
Retry-After). A call that still fails is audited and swallowed: the request stays pending
and can be decided from the CLI.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from approvals.authz import GroupLookupFailed
from approvals.model import ApprovalRepository, ApprovalRequest
from approvals.queue import AuditSink
from approvals.render import Message, plain, request_message, result_reply
from approvals.settings import SlackSettings

SLACK_ERRORS: tuple[type[Exception], ...] = (SlackApiError, SlackClientError, OSError, ValueError)
"""What a Web API call can raise once retries are exhausted (OSError covers URLError)."""

Sleep = Callable[[float], None]

_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
_NO_AUTO_MARKUP: dict[str, Any] = {"parse": "none", "link_names": False, "unfurl_links": False, "unfurl_media": False}
"""Slack must not turn names into mentions or preview links found in untrusted text."""


def _sleep_then_count(sleep: Sleep, seconds: float, state: RetryState) -> None:
    state.next_attempt_requested = True
    sleep(seconds)
    state.increment_current_attempt()


class _BackoffSleep(RetryHandler):
    """Exponential backoff through an injectable sleep (tests never really wait)."""

    _sleep: Sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        _sleep_then_count(self._sleep, wait, state)


class _ServerErrorRetry(_BackoffSleep, ServerErrorRetryHandler):
    """Any 5xx."""

    def __init__(self, max_retry_count: int, *, backoff: float, sleep: Sleep) -> None:
        ServerErrorRetryHandler.__init__(self, max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=backoff))
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


class _ConnectionErrorRetry(_BackoffSleep, ConnectionErrorRetryHandler):
    """Connection resets and refusals."""

    def __init__(self, max_retry_count: int, *, backoff: float, sleep: Sleep) -> None:
        ConnectionErrorRetryHandler.__init__(
            self, max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=backoff)
        )
        self._sleep = sleep


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """HTTP 429 or an `ok: false, error: ratelimited` answer: wait Retry-After (capped), retry."""

    def __init__(self, max_retry_count: int, *, backoff: float, max_wait: float, sleep: Sleep) -> None:
        super().__init__(max_retry_count, BackoffRetryIntervalCalculator(backoff_factor=backoff))
        self._max_wait = max_wait
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None:
            return False
        return response.status_code == 429 or (response.body or {}).get("error") == "ratelimited"

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        headers = {k.lower(): v for k, v in (response.headers if response is not None else {}).items()}
        retry_after = headers.get("retry-after")
        if retry_after:
            with contextlib.suppress(ValueError):
                wait = float(retry_after[0])
        _sleep_then_count(self._sleep, min(wait, self._max_wait), state)


def retry_handlers(settings: SlackSettings, *, sleep: Sleep = time.sleep) -> list[RetryHandler]:
    """The retry policy of every Web API call: rate limits, 5xx, and connection errors."""
    n, backoff = settings.max_retries, settings.retry_backoff_seconds
    return [
        _RateLimitRetry(n, backoff=backoff, max_wait=settings.max_retry_after_seconds, sleep=sleep),
        _ServerErrorRetry(n, backoff=backoff, sleep=sleep),
        _ConnectionErrorRetry(n, backoff=backoff, sleep=sleep),
    ]


def web_client(settings: SlackSettings, *, sleep: Sleep = time.sleep) -> WebClient:
    """A WebClient for the bot token at the configured base URL, with the retry policy."""
    return WebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.base_url,
        timeout=settings.timeout_seconds,
        retry_handlers=retry_handlers(settings, sleep=sleep),
    )


class SlackChannel:
    """Shows approval requests in Slack and resolves user groups (ApprovalNotifier + GroupDirectory)."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        repository: ApprovalRepository,
        audit: AuditSink,
        escalation_mention: str | None = None,
        client: WebClient | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._settings = settings
        self._repo = repository
        self._audit = audit
        self._mention = escalation_mention
        self.client = client or web_client(settings, sleep=sleep)
        """The Web API client (shared with the Socket Mode app)."""

    def publish(self, request: ApprovalRequest) -> None:
        """Post the request's message the first time, update it afterwards."""
        message = request_message(request, escalation_mention=self._mention)
        if request.slack_channel is None or request.slack_ts is None:
            response = self._call("chat.postMessage", request, channel=self._settings.channel, **message)
            if response is not None:
                self._repo.set_message_ref(request.id, channel=str(response["channel"]), ts=str(response["ts"]))
            return
        self._call("chat.update", request, channel=request.slack_channel, ts=request.slack_ts, **message)

    def publish_result(self, request: ApprovalRequest) -> None:
        """Reply in the request's thread with the execution result (and Undo when available)."""
        if request.slack_channel is None or request.slack_ts is None:
            return
        reply = result_reply(request)
        self._call("chat.postMessage", request, channel=request.slack_channel, thread_ts=request.slack_ts, **reply)

    def post_notice(self, text: str) -> None:
        """A plain message in the approvals channel: an escalation or a denial a person should see.
        `text` may carry alert or model text: it is cleaned and escaped (only the configured
        escalation mention is sent as markup)."""
        shown = plain(text, limit=2000)
        if self._mention:
            shown = f"{self._mention} {shown}"
        self._call("chat.postMessage", None, channel=self._settings.channel, text=shown)

    def post_ephemeral(self, *, channel: str, user: str, message: Message) -> None:
        """Tell one person something only they see (e.g. that their click was refused)."""
        self._call("chat.postEphemeral", None, channel=channel, user=user, **message)

    def group_members(self, group_id: str) -> frozenset[str]:
        """Members of a Slack user group (usergroups.users.list); GroupLookupFailed on any error."""
        try:
            response = self.client.api_call("usergroups.users.list", params={"usergroup": group_id})
            users: list[str] = response.get("users") or []
        except SLACK_ERRORS as exc:
            raise GroupLookupFailed(f"{group_id}: {exc}") from exc
        return frozenset(users)

    def _call(self, method: str, request: ApprovalRequest | None, **payload: Any) -> dict[str, Any] | None:
        if method in _MESSAGE_METHODS:
            payload = {**payload, **_NO_AUTO_MARKUP}
        try:
            response = self.client.api_call(method, json=payload)
        except SLACK_ERRORS as exc:
            self._audit(
                "slack_call_failed",
                {"method": method, "request_id": request.id if request else None, "error": _describe(exc)},
            )
            return None
        return dict(response.data) if isinstance(response.data, dict) else {}


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"slack api error: {exc.response.get('error')} (status {exc.response.status_code})"
    return f"{type(exc).__name__}: {exc}"
