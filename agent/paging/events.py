"""A page in Scutum's terms, and the request bodies PagerDuty and Opsgenie document for it (pure).

The dedup key is per incident (and per source, so two clusters never share one): a second
escalation of the same incident updates the open page, and its resolution resolves it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

PAGERDUTY_SUMMARY_MAX = 1024
OPSGENIE_MESSAGE_MAX = 130
OPSGENIE_ALIAS_MAX = 512
OPSGENIE_DESCRIPTION_MAX = 15000
OPSGENIE_SOURCE_MAX = 100
OPSGENIE_TAG_MAX = 50
DETAIL_VALUE_MAX = 1024

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class PageAction(StrEnum):
    """Open (or update) the incident's page, or resolve it."""

    TRIGGER = "trigger"
    RESOLVE = "resolve"


class PageReason(StrEnum):
    """Why on-call is paged."""

    ESCALATED = "escalated"
    DENIED = "denied"
    FAILED = "failed"
    APPROVAL_EXPIRING = "approval_expiring"
    DRIFT = "drift"
    RESOLVED = "resolved"


_PAGERDUTY_SEVERITY = {"critical": "critical", "error": "error", "high": "error", "warning": "warning", "info": "info"}
_OPSGENIE_PRIORITY = {"critical": "P1", "error": "P2", "high": "P2", "warning": "P3", "info": "P5"}


@dataclass(frozen=True)
class Page:
    """One page about one incident."""

    incident_id: str
    action: PageAction
    reason: PageReason
    summary: str
    at: datetime
    namespace: str | None = None
    severity: str | None = None
    """The alert's `severity` label, as Alertmanager sent it."""
    target: str | None = None
    """The object the incident is about, e.g. `Deployment shop/web`."""
    details: dict[str, str] = field(default_factory=dict)

    def dedup_key(self, source: str) -> str:
        """One key per source and incident: pages update and resolve, never duplicate."""
        return f"scutum/{clean(source, 64)}/{self.incident_id}"


def clean(text: str, limit: int) -> str:
    """Alert text is untrusted: no control or bidi characters, at most `limit` characters."""
    text = _CONTROL.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _details(page: Page) -> dict[str, str]:
    base = {"incident": page.incident_id, "reason": page.reason.value}
    if page.target:
        base["target"] = page.target
    if page.namespace:
        base["namespace"] = page.namespace
    base.update(page.details)
    return {clean(k, 100): clean(v, DETAIL_VALUE_MAX) for k, v in base.items()}


def pagerduty_event(page: Page, *, routing_key: str, source: str) -> dict[str, Any]:
    """The Events API v2 body (`POST /v2/enqueue`) for a page."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": page.action.value,
        "dedup_key": page.dedup_key(source),
    }
    if page.action is PageAction.RESOLVE:
        return body
    payload: dict[str, Any] = {
        "summary": clean(page.summary, PAGERDUTY_SUMMARY_MAX),
        "source": clean(source, 255),
        "severity": _PAGERDUTY_SEVERITY.get((page.severity or "").lower(), "error"),
        "timestamp": page.at.isoformat(),
        "class": page.reason.value,
        "custom_details": _details(page),
    }
    if page.target:
        payload["component"] = clean(page.target, 255)
    if page.namespace:
        payload["group"] = clean(page.namespace, 255)
    body["payload"] = payload
    body["client"] = "Scutum"
    return body


@dataclass(frozen=True)
class OpsgenieRequest:
    """One Alert API call: path (below the base URL), query and JSON body."""

    path: str
    params: dict[str, str]
    body: dict[str, Any]


def opsgenie_request(page: Page, *, source: str) -> OpsgenieRequest:
    """Create (Opsgenie deduplicates an open alert by alias) or close by alias."""
    alias = clean(page.dedup_key(source), OPSGENIE_ALIAS_MAX)
    if page.action is PageAction.RESOLVE:
        return OpsgenieRequest(
            path=f"/v2/alerts/{quote(alias, safe='')}/close",
            params={"identifierType": "alias"},
            body={"source": clean(source, OPSGENIE_SOURCE_MAX), "note": clean(page.summary, 25000)},
        )
    tags = ["scutum", page.reason.value] + ([page.namespace] if page.namespace else [])
    body: dict[str, Any] = {
        "message": clean(page.summary, OPSGENIE_MESSAGE_MAX),
        "alias": alias,
        "description": clean(page.summary, OPSGENIE_DESCRIPTION_MAX),
        "tags": [clean(tag, OPSGENIE_TAG_MAX) for tag in tags][:20],
        "details": _details(page),
        "source": clean(source, OPSGENIE_SOURCE_MAX),
        "priority": _OPSGENIE_PRIORITY.get((page.severity or "").lower(), "P2"),
    }
    if page.target:
        body["entity"] = clean(page.target, 512)
    return OpsgenieRequest(path="/v2/alerts", params={}, body=body)
