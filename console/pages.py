"""The console's pages (GET only: nothing here changes state)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from actions.base import ActionName
from agent.audit import export_line
from agent.settings import redacted
from agent.store import IncidentStatus
from agent.store.browse import (
    ALL_CLUSTERS,
    DECIDED_VERDICTS,
    IncidentFilter,
    IncidentSummary,
    cursor_text,
    parse_cursor,
)
from console.present import changes, claim_checks, hide_prompts, risk_bars, row, timeline

if TYPE_CHECKING:
    from console.app import Console

Handler = Callable[[Request], Response]
VERDICTS = (*DECIDED_VERDICTS, "escalate", "ignore")
MAX_FILTER_CHARS = 253
MAX_SEQ = 2**62
"""Audit sequence numbers above this are not looked up (the databases' integers end at 2**63)."""
MAX_SEQ_DIGITS = 18


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value[:MAX_FILTER_CHARS] or None


def incidents(console: Console) -> Handler:
    """Incidents newest first, filtered, one page at a time; the page reloads itself."""

    def handler(request: Request) -> Response:
        filters = IncidentFilter(
            namespace=_param(request, "namespace"),
            verdict=_param(request, "verdict"),
            action=_param(request, "action"),
            status=_param(request, "status"),
            cluster=_param(request, "cluster"),
        )
        cursor = parse_cursor(request.query_params.get("cursor"))
        browse = console.deps.store.browse
        page = browse.incidents(filters, cursor=cursor, limit=console.settings.page_size)
        return console.render(
            request,
            "incidents.html",
            rows=[row(s) for s in page.rows],
            filters=filters,
            filter_query=urlencode({k: v for k, v in asdict(filters).items() if v}),
            next_cursor=cursor_text(page.next_cursor) if page.next_cursor else None,
            first_page=cursor is None,
            namespaces=browse.namespaces(),
            clusters=browse.clusters(),
            this_cluster=console.deps.store.cluster,
            all_clusters=ALL_CLUSTERS,
            verdicts=VERDICTS,
            actions=[name.value for name in ActionName],
            statuses=[s.value for s in IncidentStatus],
            auto_refresh=cursor is None,
        )

    return handler


def incident(console: Console) -> Handler:
    """One incident: timeline, risk decomposition, claims against findings, approvals, actions."""

    def handler(request: Request) -> Response:
        story = console.deps.store.browse.story(str(request.path_params["incident_id"])[:64])
        if story is None:
            return console.render(request, "message.html", status=404, title="Not found", text="No such incident.")
        decision = story.decisions[-1] if story.decisions else None
        proposal = story.proposals[-1] if story.proposals else None
        components = decision.components if decision else {}
        return console.render(
            request,
            "incident.html",
            story=story,
            incident=story.incident,
            proposal=proposal,
            decision=decision,
            bars=risk_bars(components),
            claims=claim_checks(proposal.claims, components) if proposal else [],
            steps=timeline(story.audit),
            diffs={e.id: changes(e.outcome) for e in story.executions},
            row=row(IncidentSummary(story.incident, proposal, decision)),
        )

    return handler


def approvals(console: Console) -> Handler:
    """Pending requests with their countdown, and the most recent decided ones."""

    def handler(request: Request) -> Response:
        return console.approvals_page(request)

    return handler


def evidence(console: Console) -> Handler:
    """The chain's head, the last verification, and a page of records, newest first."""

    def handler(request: Request) -> Response:
        before_text = request.query_params.get("before", "")[:MAX_SEQ_DIGITS]
        before = int(before_text) if before_text.isdigit() else None
        records = console.deps.store.browse.audit_page(before=before, limit=console.settings.page_size)
        return console.render(
            request,
            "evidence.html",
            head=console.deps.store.audit.head(),
            verified=console.verified,
            records=records,
            older=records[-1].seq if records and records[-1].seq > 1 else None,
        )

    return handler


def record(console: Console) -> Handler:
    """One audit record; prompts only for signed-in users (and only when the settings allow)."""

    def handler(request: Request) -> Response:
        seq = int(request.path_params["seq"])
        found = console.deps.store.browse.audit_record(seq) if seq < MAX_SEQ else None
        if found is None:
            return console.render(request, "message.html", status=404, title="Not found", text="No such record.")
        show = console.viewer(request).signed_in and console.settings.show_prompts
        payload = json.dumps(hide_prompts(found.payload, show=show), indent=2, sort_keys=True, ensure_ascii=False)
        return console.render(request, "record.html", record=found, payload=payload)

    return handler


def export(console: Console) -> Handler:
    """The whole chain as JSON Lines (what `scutum audit export` writes): signed-in users only,
    because the chain holds prompts."""

    def handler(request: Request) -> Response:
        viewer = console.viewer(request)
        if not viewer.signed_in:
            text = "Exporting the chain needs a signed-in user (it holds prompts and model answers)."
            return console.render(request, "message.html", status=403, title="Sign-in needed", text=text)

        def lines() -> Iterator[str]:
            for item in console.deps.store.audit.records():
                yield export_line(item) + "\n"

        headers = {"content-disposition": 'attachment; filename="scutum-audit.jsonl"'}
        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)

    return handler


def reports(console: Console) -> Handler:
    """Calibration placeholder, the registry, the effective settings (secrets masked), the kill switch."""

    def handler(request: Request) -> Response:
        settings_text = json.dumps(redacted(console.deps.settings), indent=2, sort_keys=True)
        return console.render(
            request,
            "reports.html",
            registry=console.registry,
            settings_text=settings_text,
            control=console.deps.kill_switch.state(),
        )

    return handler


def registry_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One catalog entry with its parameters flattened to (name, type, bounds, description)."""
    schema = entry["params_schema"]
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append(
            {
                "name": name,
                "type": prop.get("type")
                or " | ".join(str(p.get("type", p.get("$ref", "?"))) for p in prop.get("anyOf", [])),
                "bounds": _bounds(prop),
                "required": name in schema.get("required", []),
                "description": prop.get("description", ""),
            }
        )
    return {**entry, "params": params}


def _bounds(prop: dict[str, Any]) -> str:
    parts = []
    for key, label in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in prop:
            parts.append(f"{label} {prop[key]}")
    if "maxLength" in prop:
        parts.append(f"at most {prop['maxLength']} chars")
    if "enum" in prop:
        parts.append("one of " + ", ".join(str(v) for v in prop["enum"]))
    return "; ".join(parts)
