"""The console's ASGI app: `build_console(ConsoleDeps)` returns a Starlette app the agent's
HTTP endpoint mounts under /console.

Every response carries a strict Content-Security-Policy (scripts and styles only from the
console's own static files, no inline script), and every page is rendered with autoescaping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actions.registry import catalog
from agent.audit import AuditKind, AuditLog, VerifyReport
from agent.control import KillSwitch
from agent.refusals import RefusalLog
from agent.settings import Settings
from agent.store import Store
from approvals.authz import ApproverPolicy
from approvals.queue import ApprovalQueue
from console import forms, pages
from console.auth import CsrfTokens, Viewer, identity_from
from console.pages import registry_entry
from console.present import band, countdown

HERE = Path(__file__).parent
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
"""Anonymous refusals are audited at most once a minute each kind, with a count (noise aggregated)."""


@dataclass(frozen=True)
class ConsoleDeps:
    """Everything the console reads and the few things it may change, passed in."""

    settings: Settings
    store: Store
    audit: AuditLog
    approvals: ApprovalQueue
    kill_switch: KillSwitch
    refusals: RefusalLog
    """The agent's refusal log: anonymous refusals aggregated per interval, the tail of a flood
    written by its periodic flush (the same mechanism as the HTTP endpoints')."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class VerifyCache:
    """The last chain verification someone asked for, and when."""

    report: VerifyReport | None = None
    at: datetime | None = None


class Console:
    """Shared state of the console's handlers: dependencies, templates, tokens, caches."""

    def __init__(self, deps: ConsoleDeps) -> None:
        self.deps = deps
        self.settings = deps.settings.console
        key = self.settings.csrf_key.get_secret_value().encode() if self.settings.csrf_key else None
        self.csrf = CsrfTokens(key)
        self.policy = ApproverPolicy(deps.settings.approvals)
        self.verified = VerifyCache()
        self.registry = [registry_entry(entry) for entry in catalog()]
        """The nine actions as the reports page shows them (static: built once)."""
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["band"] = band
        self.templates.filters["when"] = _when

    def viewer(self, request: Request) -> Viewer:
        """Who is asking: the proxy's user (from a trusted peer) and whether they may act."""
        user = identity_from(
            request.headers,
            request.client.host if request.client else None,
            header=self.settings.identity_header,
            trusted_proxies=self.settings.trusted_proxies,
        )
        if user is None:
            reason = "read-only: nobody is signed in"
            if not self.settings.identity_header:
                reason = "read-only: no authenticating proxy is configured (console.identity_header)"
            return Viewer(None, False, reason)
        refusal = self.policy.may_operate(user)
        return Viewer(user, refusal is None, refusal.reason if refusal else "")

    def render(self, request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A page from its template, with the viewer, a CSRF token and the clock."""
        viewer = self.viewer(request)
        now = self.deps.clock()
        token = self.csrf.issue(viewer.user, now) if viewer.user else ""
        html = self.templates.get_template(name).render(
            viewer=viewer,
            csrf=token,
            now=now,
            root=request.scope.get("root_path", ""),
            countdown=lambda deadline: countdown(deadline, now),
            refresh=self.settings.refresh_seconds,
            paused=self.deps.kill_switch.state().paused,
            cluster=self.deps.store.cluster,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def message(self, request: Request, title: str, text: str, status: int) -> HTMLResponse:
        """A short page saying what happened (a refusal, a missing record)."""
        return self.render(request, "message.html", status=status, title=title, text=text)

    def approvals_page(self, request: Request, notice: str = "", status: int = 200) -> HTMLResponse:
        """The approvals page, with a notice about the vote just cast when there is one."""
        pending = self.deps.store.browse.pending_approvals()
        return self.render(request, "approvals.html", status=status, pending=pending, notice=notice)

    def audit_refusal(self, what: str, *, user: str | None, reason: str, details: dict[str, Any]) -> None:
        """Record a refused console request; anonymous ones aggregated per interval, with a count."""
        kind = AuditKind.CONTROL if what == "control" else AuditKind.APPROVAL_VOTE
        event = {"event": f"console_{what}_refused", **details}
        if user is None:
            self.deps.refusals.refuse(
                endpoint=f"/console/{what}", source="console:anonymous", reason=reason, details=event, kind=kind
            )
            return
        self.deps.audit.append(
            kind,
            actor=f"console:{user}",
            incident_id=details.get("incident_id"),
            payload={"reason": reason, **event},
        )


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


class SecurityHeaders:
    """ASGI middleware: the security headers on every response the console sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_console(deps: ConsoleDeps) -> ASGIApp:
    """The console as an ASGI app, to mount under /console."""
    console = Console(deps)
    routes = [
        Route("/", pages.incidents(console)),
        Route("/incidents/{incident_id}", pages.incident(console)),
        Route("/approvals", pages.approvals(console)),
        Route("/approvals/{request_id}/vote", forms.vote(console), methods=["POST"]),
        Route("/evidence", pages.evidence(console)),
        Route("/evidence/verify", forms.verify(console), methods=["POST"]),
        Route("/evidence/export", pages.export(console)),
        Route("/evidence/records/{seq:int}", pages.record(console)),
        Route("/reports", pages.reports(console)),
        Route("/control", forms.control(console), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes))
