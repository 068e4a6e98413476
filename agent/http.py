"""The agent's HTTP endpoints: health, readiness, metrics, the Alertmanager webhook and
Slack's HTTP mode. Standbys serve all of them; only the leader acts on what arrives.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from datetime import datetime

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.pipeline import Pipeline

log = structlog.get_logger(__name__)

SlackHandler = Callable[[dict[str, str], bytes, datetime], tuple[int, str]]
"""(headers, raw body, now) -> (status, body): `approvals.slack_interactions.SlackInteractions.handle_interaction`."""

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
"""A webhook body larger than this is refused (413) before it is parsed."""


def build_http_app(
    *,
    pipeline: Pipeline,
    metrics_text: Callable[[], bytes],
    is_leader: Callable[[], bool],
    is_ready: Callable[[], bool],
    clock: Callable[[], datetime],
    slack: SlackHandler | None = None,
    webhook_enabled: bool = True,
    webhook_token: str | None = None,
    on_rejected: Callable[[str], None] | None = None,
    readiness: Callable[[], dict[str, str]] | None = None,
) -> Starlette:
    """The ASGI app; every dependency is passed in."""

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        ok = is_ready()
        details = "".join(f"\n{name}: {state}" for name, state in (readiness() if readiness else {}).items())
        return PlainTextResponse(("ready" if ok else "not ready") + details, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(metrics_text(), media_type="text/plain; version=0.0.4")

    async def alertmanager(request: Request) -> Response:
        if not webhook_enabled:
            return JSONResponse({"error": "the Alertmanager webhook is disabled (alertmanager.webhook_enabled)"}, 404)
        if webhook_token is not None and not _bearer_matches(request.headers.get("authorization"), webhook_token):
            if on_rejected is not None:
                on_rejected(request.client.host if request.client else "unknown")
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        if not is_leader():
            return JSONResponse({"error": "not the leader; Alertmanager will retry"}, status_code=503)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        handled = pipeline.ingest_webhook(body)
        return JSONResponse({"incidents": [h.evaluation.incident.id for h in handled]})

    async def slack_events(request: Request) -> Response:
        if slack is None:
            return JSONResponse({"error": "Slack HTTP mode is not enabled"}, status_code=404)
        body = await request.body()
        status, text = slack({k.lower(): v for k, v in request.headers.items()}, body, clock())
        return PlainTextResponse(text, status_code=status)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/alertmanager", alertmanager, methods=["POST"]),
        Route("/slack/events", slack_events, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def _bearer_matches(header: str | None, token: str) -> bool:
    """Constant-time check of an `Authorization: Bearer ...` header."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class HttpServer:
    """uvicorn in a background thread, stopped cleanly on shutdown."""

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
