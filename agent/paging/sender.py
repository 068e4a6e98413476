"""Delivering pages: off the caller's thread, retried with backoff, every outcome counted and audited."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agent.paging.events import Page, opsgenie_request, pagerduty_event
from agent.paging.routing import route
from agent.paging.settings import PagerKind, PagingSettings

log = structlog.get_logger(__name__)

MAX_QUEUED = 1000
"""Pages waiting for the sender; past this a page is dropped, counted and audited."""
MAX_RETRY_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class Reply:
    """What a pager answered: status and the headers the retry needs."""

    status: int
    headers: Mapping[str, str]
    text: str = ""


class PagerTransport(Protocol):
    """How a page crosses the wire (httpx in production, a local stub server in tests)."""

    def post(self, url: str, *, json: dict[str, Any], headers: dict[str, str], params: dict[str, str]) -> Reply: ...


class HttpxTransport:
    """The production transport: one keep-alive client."""

    def __init__(self, *, timeout: float) -> None:
        self._client = httpx.Client(timeout=timeout)

    def post(self, url: str, *, json: dict[str, Any], headers: dict[str, str], params: dict[str, str]) -> Reply:
        response = self._client.post(url, json=json, headers=headers, params=params)
        return Reply(response.status_code, dict(response.headers), response.text[:500])

    def close(self) -> None:
        self._client.close()


class _Retryable(Exception):
    """A try that may succeed later (transport error, 429, 5xx)."""

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class _Refused(Exception):
    """The pager refused the page for good (4xx other than 429)."""


PageAudit = Callable[[Page, str, dict[str, Any]], None]
"""(page, outcome, details): records a page's outcome in the audit chain."""
PageCount = Callable[[str, str], None]
"""(pager, outcome): counts a page's outcome in the metrics."""


class Pager:
    """Sends pages to the pagers their routes name; `send` never blocks the caller."""

    def __init__(
        self,
        settings: PagingSettings,
        *,
        transport: PagerTransport,
        audit: PageAudit,
        count: PageCount,
        sleep: Callable[[float], None],
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._audit = audit
        self._count = count
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scutum-pager")
        self._slots = threading.BoundedSemaphore(MAX_QUEUED)

    @property
    def enabled(self) -> bool:
        return bool(self._settings.enabled)

    def send(self, page: Page) -> Future[None] | None:
        """Queue a page for delivery; None when no pager is configured or the queue is full."""
        if not self.enabled:
            return None
        if not self._slots.acquire(blocking=False):
            self._count("any", "dropped")
            self._audit(page, "dropped", {"error": f"more than {MAX_QUEUED} pages waiting"})
            return None
        future = self._pool.submit(self.deliver, page)
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def deliver(self, page: Page) -> None:
        """Send one page to each pager its route names (synchronously), recording each outcome."""
        for kind in route(page, self._settings):
            try:
                attempts = self._send_with_retries(kind, page)
            except (_Retryable, _Refused) as exc:
                self._count(kind.value, "failed")
                self._audit(page, "failed", {"pager": kind.value, "error": str(exc)[:500]})
                log.warning("page_failed", pager=kind.value, incident=page.incident_id, error=str(exc)[:200])
            else:
                self._count(kind.value, "sent")
                self._audit(page, "sent", {"pager": kind.value, "attempts": attempts})

    def close(self, *, wait: bool = True) -> None:
        """Stop taking pages; with `wait`, deliver those queued first."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    # --- one pager ------------------------------------------------------------------------

    def _send_with_retries(self, kind: PagerKind, page: Page) -> int:
        retrying = Retrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=_backoff,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self._send_once(kind, page)
        return int(retrying.statistics.get("attempt_number", 1))

    def _send_once(self, kind: PagerKind, page: Page) -> None:
        source = self._settings.source
        match kind:
            case PagerKind.PAGERDUTY:
                key = self._settings.pagerduty.routing_key
                assert key is not None  # routed only when configured
                url = str(self._settings.pagerduty.url)
                body = pagerduty_event(page, routing_key=key.get_secret_value(), source=source)
                headers: dict[str, str] = {}
                params: dict[str, str] = {}
            case PagerKind.OPSGENIE:
                api_key = self._settings.opsgenie.api_key
                assert api_key is not None
                request = opsgenie_request(page, source=source)
                url = str(self._settings.opsgenie.url).rstrip("/") + request.path
                body, params = request.body, request.params
                headers = {"Authorization": f"GenieKey {api_key.get_secret_value()}"}
        try:
            reply = self._transport.post(url, json=body, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        if reply.status == 429 or reply.status >= 500:
            raise _Retryable(f"HTTP {reply.status}: {reply.text[:200]}", retry_after=_retry_after(reply.headers))
        if reply.status >= 400:
            raise _Refused(f"HTTP {reply.status}: {reply.text[:200]}")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_SECONDS, max(0.0, float(value.strip())))
    except ValueError:
        return None


def _backoff(state: RetryCallState) -> float:
    """Retry-After when the pager sent one, else exponential backoff with full jitter."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    if isinstance(error, _Retryable) and error.retry_after is not None:
        return error.retry_after
    return random.uniform(0, min(30.0, 0.5 * 2 ** (state.attempt_number - 1)))  # noqa: S311 (jitter, not crypto)
