"""The console's pages over HTTP against a demo-like world: content, filters, escaping, headers."""

from __future__ import annotations

import re

import httpx

from agent.audit import AuditKind
from tests.console.world import ALLOWED, HOSTILE_LABEL, HOSTILE_NAME, IDENTITY_HEADER, ConsoleWorld


def _get(world: ConsoleWorld, path: str, user: str | None = None) -> httpx.Response:
    headers = {IDENTITY_HEADER: user} if user else {}
    return httpx.get(world.url + path, headers=headers, timeout=10)


def test_the_incident_list_shows_the_decision_and_filters_by_verdict(world: ConsoleWorld) -> None:
    handled = world.incident_needing_approval()
    incident_id = handled.evaluation.incident.id

    page = _get(world, "/").text
    assert incident_id in page and "rollback_workload" in page and "Deployment shop/frontend" in page
    assert incident_id in _get(world, "/?verdict=approve&namespace=shop&action=rollback_workload").text
    assert incident_id not in _get(world, "/?verdict=deny").text
    assert incident_id not in _get(world, "/?action=drain_node").text
    assert incident_id not in _get(world, "/?namespace=kube-system").text


def test_the_incident_page_shows_the_decomposition_the_timeline_and_links_to_its_records(world: ConsoleWorld) -> None:
    handled = world.incident_needing_approval()
    risk = handled.evaluation.risk
    assert risk is not None
    page = _get(world, f"/incidents/{handled.evaluation.incident.id}").text

    for component, part in risk.components.items():
        assert f'data-component="{component.value}"' in page
        for reason in part.reasons:
            assert str(httpx.QueryParams({"r": reason})) and reason.replace(">", "&gt;") in page
    assert f"{risk.total:.2f}" in page
    linked = {int(s) for s in re.findall(r"/evidence/records/(\d+)", page)}
    kinds = {world.agent.store.browse.audit_record(s).kind for s in linked}  # type: ignore[union-attr]
    assert {AuditKind.INCIDENT, AuditKind.RISK, AuditKind.DECISION, AuditKind.APPROVAL_REQUESTED} <= kinds


def test_hostile_alert_text_is_escaped_everywhere(world: ConsoleWorld) -> None:
    (handled,) = world.hostile_alert()
    for path in ("/", f"/incidents/{handled.evaluation.incident.id}", "/evidence"):
        page = _get(world, path).text
        assert HOSTILE_NAME not in page and HOSTILE_LABEL not in page
        assert "onerror=" not in page.replace("onerror=&#34;", "")
    detail = _get(world, f"/incidents/{handled.evaluation.incident.id}").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in detail


def test_every_page_carries_a_strict_content_security_policy(world: ConsoleWorld) -> None:
    for path in ("/", "/approvals", "/evidence", "/reports", "/static/console.js"):
        response = _get(world, path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "default-src 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in _get(world, "/reports").text  # no inline script at all


def test_prompts_and_the_export_are_for_signed_in_users_only(world: ConsoleWorld) -> None:
    world.agent.audit.append(
        AuditKind.LLM_EXCHANGE, actor="scutum", payload={"request": {"messages": ["SECRET PROMPT"]}, "response": "x"}
    )
    seq = world.agent.store.audit.head().seq
    assert "SECRET PROMPT" not in _get(world, f"/evidence/records/{seq}").text
    assert "SECRET PROMPT" in _get(world, f"/evidence/records/{seq}", ALLOWED).text
    assert _get(world, "/evidence/export").status_code == 403
    export = _get(world, "/evidence/export", ALLOWED)
    assert export.status_code == 200 and len(export.text.splitlines()) == seq


def test_the_reports_page_lists_nine_actions_and_masks_secrets(world: ConsoleWorld) -> None:
    page = _get(world, "/reports").text
    assert len(re.findall(r'class="card action"', page)) == 9
    assert "issue #22" in page
    assert '"hmac_key": null' in page or "**********" in page
    assert "running" in page


def test_out_of_range_record_numbers_are_not_found_not_errors(world: ConsoleWorld) -> None:
    assert _get(world, "/evidence/records/99999999999999999999999").status_code == 404
    assert _get(world, "/evidence?before=99999999999999999999999").status_code == 200
    assert _get(world, "/incidents/" + "x" * 500).status_code == 404
