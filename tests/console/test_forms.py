"""State-changing requests: identity from the proxy, the approver list, CSRF, and the audit."""

from __future__ import annotations

import re

import httpx

from agent.audit import AuditKind
from approvals.model import ApprovalState, VoteChannel
from tests.console.world import ALLOWED, IDENTITY_HEADER, NOT_ALLOWED, ConsoleWorld


def _csrf(world: ConsoleWorld, user: str, path: str = "/approvals") -> str:
    page = httpx.get(world.url + path, headers={IDENTITY_HEADER: user}, timeout=10).text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page offers no form"
    return match.group(1)


def _post(world: ConsoleWorld, path: str, data: dict[str, str], user: str | None) -> httpx.Response:
    headers = {IDENTITY_HEADER: user} if user else {}
    return httpx.post(world.url + path, data=data, headers=headers, timeout=30)


def _events(world: ConsoleWorld) -> list[dict[str, object]]:
    return [r.payload for r in world.agent.store.audit.records() if r.kind == AuditKind.APPROVAL_VOTE]


def test_an_allowed_user_approves_through_the_queue_with_the_console_channel(world: ConsoleWorld) -> None:
    request_id = world.incident_needing_approval().approval_id
    assert request_id is not None
    token = _csrf(world, ALLOWED)
    response = _post(world, f"/approvals/{request_id}/vote", {"decision": "approve", "csrf": token}, ALLOWED)
    assert response.status_code == 200, response.text
    assert "Approved" in response.text
    world.agent.executor.wait(timeout=60)
    request = world.agent.approvals.get(request_id)
    assert request is not None and request.state is not ApprovalState.PENDING
    assert [(v.approver, v.channel) for v in request.votes] == [(ALLOWED, VoteChannel.CONSOLE)]
    assert any(e.get("event") == "approval_approved" for e in _events(world))


def test_a_user_not_on_the_list_is_refused_and_the_refusal_is_audited(world: ConsoleWorld) -> None:
    request_id = world.incident_needing_approval().approval_id
    token = _csrf(world, NOT_ALLOWED)
    response = _post(world, f"/approvals/{request_id}/vote", {"decision": "approve", "csrf": token}, NOT_ALLOWED)
    assert response.status_code == 403 and "not on the console approver list" in response.text
    assert world.agent.approvals.get(str(request_id)).state is ApprovalState.PENDING  # type: ignore[union-attr]
    refused = [e for e in _events(world) if e.get("event") == "approval_vote_refused"]
    assert refused and refused[-1]["approver"] == NOT_ALLOWED and refused[-1]["channel"] == "console"


def test_without_the_proxy_header_or_with_a_bad_token_nothing_changes(world: ConsoleWorld) -> None:
    request_id = world.incident_needing_approval().approval_id
    token = _csrf(world, ALLOWED)
    anonymous = _post(world, f"/approvals/{request_id}/vote", {"decision": "approve", "csrf": token}, None)
    assert anonymous.status_code == 403 and "no signed-in user" in anonymous.text
    forged = _post(world, f"/approvals/{request_id}/vote", {"decision": "approve", "csrf": "1.bad"}, ALLOWED)
    assert forged.status_code == 403 and "CSRF" in forged.text
    stolen = _post(world, f"/approvals/{request_id}/vote", {"decision": "approve", "csrf": token}, NOT_ALLOWED)
    assert stolen.status_code == 403 and "CSRF" in stolen.text
    assert world.agent.approvals.get(str(request_id)).state is ApprovalState.PENDING  # type: ignore[union-attr]
    reasons = [e["reason"] for e in _events(world) if str(e.get("event", "")).startswith("console_vote_refused")]
    assert any("no signed-in user" in str(r) for r in reasons) and any("CSRF" in str(r) for r in reasons)


def test_anonymous_pages_offer_no_forms(world: ConsoleWorld) -> None:
    world.incident_needing_approval()
    for path in ("/approvals", "/reports", "/evidence"):
        page = httpx.get(world.url + path, timeout=10).text
        assert 'name="csrf"' not in page and "read-only" in page


def test_an_allowed_user_pauses_and_resumes_with_a_reason_and_it_is_audited(world: ConsoleWorld) -> None:
    token = _csrf(world, ALLOWED, "/reports")
    refused = _post(world, "/control", {"action": "pause", "reason": "", "csrf": token}, ALLOWED)
    assert refused.status_code == 400
    paused = _post(world, "/control", {"action": "pause", "reason": "maintenance", "csrf": token}, ALLOWED)
    assert paused.status_code == 303
    reports = httpx.get(world.url + "/reports", headers={IDENTITY_HEADER: ALLOWED}, timeout=10).text
    assert "actions paused" in reports and "maintenance" in reports
    assert world.agent.kill_switch.state().paused
    assert world.agent.kill_switch.state().changed_by == f"console:{ALLOWED}"
    other_token = _csrf(world, NOT_ALLOWED, "/evidence")
    not_allowed = _post(world, "/control", {"action": "resume", "csrf": other_token}, NOT_ALLOWED)
    assert not_allowed.status_code == 403 and world.agent.kill_switch.is_paused()
    _post(world, "/control", {"action": "resume", "csrf": token}, ALLOWED)
    assert not world.agent.kill_switch.is_paused()
    control = [r.payload for r in world.agent.store.audit.records() if r.kind == AuditKind.CONTROL]
    assert [c.get("event", c.get("action")) for c in control] == ["pause", "console_control_refused", "resume"]
