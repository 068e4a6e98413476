"""The agent's HTTP endpoints: health, readiness, metrics, the Alertmanager webhook and
Slack's HTTP mode. Standbys serve all of them; only the leader acts on what arrives.

Every body is bounded before it is read (Content-Length, then the stream itself), parsed
strictly (UTF-8, bounded JSON) and validated; what passes is handed to the decision queue
and the sender is answered at once. Every refusal is audited through `RefusalLog`
(aggregated per source and interval for unauthenticated noise).
"""

from __future__ import annotations

import hmac
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from agent.audit import AuditKind
from agent.intake.alerts import ParsedBatch, apply_filters, parse_clean_webhook, parse_webhook
from agent.pipeline import Handled, Pipeline
from agent.rate_limit import RateLimiter
from agent.refusals import RefusalLog
from agent.work import DecisionQueue, Lane
from approvals.slack_interactions import SlackAnswer

log = structlog.get_logger(__name__)

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
"""Default limit of a webhook body; larger ones get 413 before they are read."""
INLINE_PARSE_BYTES = 256 * 1024
"""A webhook body up to this size whose text needs no cleaning is parsed and queued on the event
loop itself (about 1 ms for 100 alerts; at most ~7 ms for a 256 KiB body, taken or not): handing
it to a worker thread costs more than the work. Anything else goes to a thread, so `/healthz`
never waits behind a 5 MiB body or one alert-by-alert rejection."""
MAX_SLACK_BYTES = 64 * 1024
"""Default limit of a Slack interaction body (a click payload is a few KiB)."""
MAX_MATTERMOST_BYTES = 64 * 1024
"""Limit of a Mattermost button callback (a few hundred bytes)."""

MattermostHandler = Callable[[bytes, datetime], tuple[int, dict[str, Any]]]
"""(raw body, now) -> (status, JSON): `approvals.mattermost.MattermostActions.handle`."""
DOUBTFUL_JOB_ALERTS = 25
"""Alerts about unknown objects are decided in jobs this small, so an alert about a real
target that arrives meanwhile waits for at most one of them."""


class SlackAcceptor(Protocol):
    """`approvals.slack_interactions.SlackInteractions`: checks a request, returns the answer and the job."""

    def accept(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> SlackAnswer:
        """Authenticate and parse one POST /slack/events."""
        ...


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Per-route body limits, in bytes."""

    webhook: int = MAX_WEBHOOK_BYTES
    slack: int = MAX_SLACK_BYTES


class BodyRefused(Exception):
    """A body refused before (or while) it was read: the status and what to tell the sender."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes: 413 from the declared Content-Length before anything
    is read, or as soon as a chunked stream passes the limit (the rest is never read)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()) or len(declared) > 15:
            raise BodyRefused(400, "malformed Content-Length")
        if int(declared) > limit:
            raise BodyRefused(413, f"body of {int(declared)} bytes is over the {limit}-byte limit")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise BodyRefused(413, f"body is over the {limit}-byte limit")
    return bytes(received)


def _peer(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def build_http_app(
    *,
    pipeline: Pipeline,
    metrics_text: Callable[[], bytes],
    is_leader: Callable[[], bool],
    is_ready: Callable[[], bool],
    clock: Callable[[], datetime],
    refusals: RefusalLog | None = None,
    slack: SlackAcceptor | None = None,
    webhook_enabled: bool = True,
    webhook_token: str | None = None,
    queue: DecisionQueue | None = None,
    limits: BodyLimits | None = None,
    label_filters: Mapping[str, str] | None = None,
    split: Callable[[ParsedBatch], tuple[ParsedBatch, ParsedBatch]] | None = None,
    rate_limit: RateLimiter | None = None,
    mattermost: MattermostHandler | None = None,
    console: ASGIApp | None = None,
    readiness: Callable[[], dict[str, str]] | None = None,
) -> Starlette:
    """The ASGI app; every dependency is passed in. Without a `queue` the webhook decides
    before answering (off the event loop), as tests and one-shot tools want. `console`: the web
    console, mounted at /console."""
    bounds = limits or BodyLimits()
    filters = dict(label_filters or {})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        ok = is_ready()
        details = "".join(f"\n{name}: {state}" for name, state in (readiness() if readiness else {}).items())
        return PlainTextResponse(("ready" if ok else "not ready") + details, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(metrics_text(), media_type="text/plain; version=0.0.4")

    async def refuse(request: Request, status: int, reason: str, *, endpoint: str, kind: AuditKind) -> Response:
        """Answer `status` and record the refusal (the audit write runs off the event loop)."""
        details = {"status": status, "content_length": request.headers.get("content-length", "")}
        if refusals is not None:
            record = partial(refusals.refuse, endpoint=endpoint, source=_peer(request), reason=reason, kind=kind)
            await run_in_threadpool(record, details=details)
        else:
            log.warning("request_refused", endpoint=endpoint, status=status, reason=reason)
        headers = {"Retry-After": str(_retry_after(queue, rate_limit))} if status == 429 else None
        return JSONResponse({"error": reason}, status_code=status, headers=headers)

    async def limited(request: Request, endpoint: str, kind: AuditKind) -> Response | None:
        if rate_limit is None or rate_limit.allow(_peer(request)):
            return None
        return await refuse(request, 429, "too many requests from this source", endpoint=endpoint, kind=kind)

    async def webhook_gate(request: Request) -> Response | None:
        """The refusals that need no body: disabled, unauthenticated, not the leader."""
        if not webhook_enabled:
            return JSONResponse({"error": "the Alertmanager webhook is disabled (alertmanager.webhook_enabled)"}, 404)
        if (too_many := await limited(request, "/alertmanager", AuditKind.ALERT)) is not None:
            return too_many
        if webhook_token is not None and not _bearer_matches(request.headers.get("authorization"), webhook_token):
            reason = "missing or wrong bearer token"
            return await refuse(request, 401, reason, endpoint="/alertmanager", kind=AuditKind.ALERT)
        if not is_leader():
            return JSONResponse({"error": "not the leader; Alertmanager will retry"}, status_code=503)
        return None

    async def alertmanager(request: Request) -> Response:
        endpoint, kind = "/alertmanager", AuditKind.ALERT
        gate = await webhook_gate(request)
        if gate is not None:
            return gate
        try:
            body = await read_bounded(request, bounds.webhook)
        except BodyRefused as exc:
            return await refuse(request, exc.status, exc.reason, endpoint=endpoint, kind=kind)
        # Parsed, filtered and queued: a small clean body here, anything else (or, without a
        # queue, the decision too) in one hop to a worker thread, without trying clean twice.
        inline = queue is not None and len(body) <= INLINE_PARSE_BYTES
        clean = parse_clean_webhook(body) if inline else None

        def take() -> tuple[ParsedBatch, Lane | None, list[Handled]]:
            batch = clean if clean is not None else parse_webhook(body, try_clean=not inline)
            return _queue_parsed(batch, filters, queue, pipeline, split)

        batch, refused_lane, handled = take() if clean is not None else await run_in_threadpool(take)
        if batch.malformed is not None:
            return await refuse(request, 400, batch.malformed, endpoint=endpoint, kind=kind)
        if queue is None:
            return JSONResponse({"incidents": [h.evaluation.incident.id for h in handled], **_counts(batch)})
        if refused_lane is not None:
            reason = f"decision queue full ({refused_lane.value}); retry later"
            return await refuse(request, 429, reason, endpoint=endpoint, kind=kind)
        return JSONResponse({"queued": True, **_counts(batch)}, status_code=202)

    slack_events = _slack_route(slack, refuse=refuse, limited=limited, limit=bounds.slack, queue=queue, clock=clock)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/alertmanager", alertmanager, methods=["POST"]),
        Route("/slack/events", slack_events, methods=["POST"]),
        Route(
            "/mattermost/actions",
            _mattermost_route(mattermost, refuse=refuse, limited=limited, clock=clock),
            methods=["POST"],
        ),
    ]
    if console is not None:
        routes.append(Mount("/console", app=console))
    return Starlette(routes=routes)


Refuse = Callable[..., Awaitable[Response]]
Limited = Callable[[Request, str, AuditKind], Awaitable[Response | None]]


def _mattermost_route(
    mattermost: MattermostHandler | None, *, refuse: Refuse, limited: Limited, clock: Callable[[], datetime]
) -> Callable[[Request], Awaitable[Response]]:
    """POST /mattermost/actions: rate-limited, bounded read, the button checked off the event loop."""

    async def mattermost_actions(request: Request) -> Response:
        endpoint, kind = "/mattermost/actions", AuditKind.CHANNEL_REQUEST_REJECTED
        if mattermost is None:
            return JSONResponse({"error": "Mattermost is not enabled"}, status_code=404)
        if (too_many := await limited(request, endpoint, kind)) is not None:
            return too_many
        try:
            body = await read_bounded(request, MAX_MATTERMOST_BYTES)
        except BodyRefused as refused:
            return await refuse(request, refused.status, refused.reason, endpoint=endpoint, kind=kind)
        status, answer = await run_in_threadpool(mattermost, body, clock())
        return JSONResponse(answer, status_code=status)

    return mattermost_actions


def _slack_route(
    slack: SlackAcceptor | None,
    *,
    refuse: Refuse,
    limited: Limited,
    limit: int,
    queue: DecisionQueue | None,
    clock: Callable[[], datetime],
) -> Callable[[Request], Awaitable[Response]]:
    """POST /slack/events: bounded read, checked off the event loop, the click queued."""

    async def slack_events(request: Request) -> Response:
        endpoint, kind = "/slack/events", AuditKind.SLACK_REQUEST_REJECTED
        if slack is None:
            return JSONResponse({"error": "Slack HTTP mode is not enabled"}, status_code=404)
        if (too_many := await limited(request, endpoint, kind)) is not None:
            return too_many
        try:
            body = await read_bounded(request, limit)
        except BodyRefused as exc:
            return await refuse(request, exc.status, exc.reason, endpoint=endpoint, kind=kind)
        answer = await run_in_threadpool(slack.accept, dict(request.headers.items()), body, clock())
        if answer.job is not None:
            if queue is None:
                await run_in_threadpool(answer.job)
            elif not queue.offer(Lane.CLICKS, answer.job, label="slack click"):
                return await refuse(request, 503, "decision queue full (clicks)", endpoint=endpoint, kind=kind)
        return PlainTextResponse(answer.text, status_code=answer.status)

    return slack_events


def _retry_after(queue: DecisionQueue | None, rate_limit: RateLimiter | None) -> int:
    waits = [queue.retry_after_seconds()] if queue is not None else []
    waits += [rate_limit.retry_after_seconds()] if rate_limit is not None else []
    return max(waits, default=1)


def _counts(batch: ParsedBatch) -> dict[str, int]:
    return {"accepted": len(batch.alerts), "rejected": len(batch.rejected), "filtered": batch.filtered}


def _queue_parsed(
    batch: ParsedBatch,
    filters: Mapping[str, str],
    queue: DecisionQueue | None,
    pipeline: Pipeline,
    split: Callable[[ParsedBatch], tuple[ParsedBatch, ParsedBatch]] | None,
) -> tuple[ParsedBatch, Lane | None, list[Handled]]:
    """A parsed webhook batch filtered and queued: the batch and the lane that refused it;
    without a queue (an app built without one) decided here, with what was handled."""
    if batch.malformed is not None:
        return batch, None, []
    batch = apply_filters(batch, filters)
    if queue is None:
        return batch, None, pipeline.ingest_parsed(batch)
    return batch, _enqueue(queue, pipeline, batch, split), []


def _enqueue(
    queue: DecisionQueue,
    pipeline: Pipeline,
    batch: ParsedBatch,
    split: Callable[[ParsedBatch], tuple[ParsedBatch, ParsedBatch]] | None,
) -> Lane | None:
    """Queue the batch (real targets and doubtful ones in their own lanes); the lane that
    refused, if any. A refused part is retried by Alertmanager; intake deduplicates."""
    real, doubtful = split(batch) if split is not None else (batch, ParsedBatch())
    if (real.alerts or real.rejected) and not queue.offer(
        Lane.ALERTS, _ingest_job(pipeline, real), units=len(real.alerts), label="webhook alerts"
    ):
        return Lane.ALERTS
    chunks = [doubtful.alerts[i : i + DOUBTFUL_JOB_ALERTS] for i in range(0, len(doubtful.alerts), DOUBTFUL_JOB_ALERTS)]
    jobs = [(_ingest_job(pipeline, ParsedBatch(chunk)), len(chunk)) for chunk in chunks]
    if jobs and not queue.offer_all(Lane.DOUBTFUL, jobs, label="webhook doubtful"):
        return Lane.DOUBTFUL
    return None


def _ingest_job(pipeline: Pipeline, batch: ParsedBatch) -> Callable[[], None]:
    def job() -> None:
        pipeline.ingest_parsed(batch)

    return job


def _bearer_matches(header: str | None, token: str) -> bool:
    """Constant-time check of an `Authorization: Bearer ...` header."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class PortUnavailable(Exception):
    """The HTTP port could not be bound (in use, or not allowed)."""


class HttpServer:
    """uvicorn in a background thread on a socket bound up front, stopped cleanly on shutdown.

    `start` binds synchronously, so a port that is taken is a `PortUnavailable` at start-up
    (the daemon exits non-zero), not a thread that dies while the agent carries on.
    """

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            # httptools (llhttp, in C) rather than h11: a webhook body of 100 alerts is parsed
            # without Python code per chunk, which was a fifth of the daemon's time in a storm.
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._host, self._port = host, port
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self._socket.getsockname()[1]) if self._socket is not None else self._port

    def start(self) -> None:
        """Bind the port (PortUnavailable when it cannot) and serve in the background."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # Named TCP explicitly: asyncio turns Nagle's algorithm off only on sockets whose proto
        # says TCP, and with it on, a response written as headers then body waits for the
        # client's delayed ACK, ~40 ms on every request after the first of a keep-alive
        # connection (Alertmanager keeps its connections alive).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise PortUnavailable(f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}") from None
        sock.listen(128)
        self._socket = sock
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._socket is not None
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
