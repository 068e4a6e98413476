"""Pages from the agent's own events: escalations, denials, resolutions, approvals about to expire."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from agent.intake import Incident
from agent.paging.events import Page, PageAction, PageReason
from agent.paging.sender import Pager
from approvals.model import ApprovalRequest

WARNED_MEMORY = 10_000
"""Requests remembered as already warned about (a cache: a repeat after a restart only updates the page)."""


def incident_page(incident: Incident, *, reason: PageReason, text: str, now: datetime) -> Page:
    """A trigger page about an incident, with its alert names, target and severity."""
    target = incident.target
    where = f"{target.kind} {target.namespace + '/' if target.namespace else ''}{target.name}" if target else None
    names = ", ".join(incident.alert_names)
    return Page(
        incident_id=incident.id,
        action=PageAction.TRIGGER,
        reason=reason,
        summary=f"Scutum {reason.value}: {names}{' on ' + where if where else ''}: {text}",
        at=now,
        namespace=target.namespace if target else _label(incident, "namespace"),
        severity=_label(incident, "severity"),
        target=where,
        details={"alerts": names},
    )


def resolved_page(incident: Incident, *, now: datetime) -> Page:
    """Resolves the incident's page (the pagers ignore a resolution of a page never opened)."""
    target = incident.target
    return Page(
        incident_id=incident.id,
        action=PageAction.RESOLVE,
        reason=PageReason.RESOLVED,
        summary="Resolved: its alerts stopped firing.",
        at=now,
        namespace=target.namespace if target else _label(incident, "namespace"),
        severity=_label(incident, "severity"),
    )


def _label(incident: Incident, name: str) -> str | None:
    """A label of the incident's first alert still held (a resolved incident may hold none)."""
    return next((alert.labels.get(name) for alert in incident.alerts.values()), None)


class ExpiryWarnings:
    """Pages once per pending request when it is about to expire unanswered."""

    def __init__(self, pager: Pager, *, warn_before: timedelta) -> None:
        self._pager = pager
        self._warn_before = warn_before
        self._warned: OrderedDict[str, None] = OrderedDict()

    def sweep(self, pending: Iterable[ApprovalRequest], *, now: datetime) -> list[str]:
        """Warn about each pending request within `warn_before` of its deadline; returns their ids."""
        if self._warn_before <= timedelta(0):
            return []
        warned = []
        for request in pending:
            deadline = request.deadline
            if request.id in self._warned or not (now < deadline <= now + self._warn_before):
                continue
            left = int((deadline - now).total_seconds())
            self._pager.send(
                Page(
                    incident_id=request.incident_id or request.id,
                    action=PageAction.TRIGGER,
                    reason=PageReason.APPROVAL_EXPIRING,
                    summary=f"Approval {request.id} expires in {left} s unanswered: {request.incident_summary}",
                    at=now,
                    namespace=request.target.namespace,
                    target=f"{request.target.kind} {request.target.namespace or ''}/{request.target.name}",
                    details={
                        "approval": request.id,
                        "action": request.action.value,
                        "risk": str(request.risk.get("score", "")),
                    },
                )
            )
            self._remember(request.id)
            warned.append(request.id)
        return warned

    def _remember(self, request_id: str) -> None:
        self._warned[request_id] = None
        while len(self._warned) > WARNED_MEMORY:
            self._warned.popitem(last=False)


def paging_notice(
    pager: Pager, reason: PageReason, *, clock: Callable[[], datetime], also: Callable[[Incident, str], None]
) -> Callable[[Incident, str], None]:
    """A notice that does `also` (the Slack/log notice) and pages."""

    def tell(incident: Incident, text: str) -> None:
        also(incident, text)
        pager.send(incident_page(incident, reason=reason, text=text, now=clock()))

    return tell
