"""The CLI approval channel: listing, approving and rejecting under the same rules."""

from __future__ import annotations

import json

from approvals.cli_channel import approve, list_requests, reject
from approvals.model import ApprovalState
from tests.approvals.conftest import World


def test_list_shows_pending_requests_with_risk_and_deadline_as_json(world: World) -> None:
    first = world.ask(0.6)
    world.clock.advance(10)
    second = world.ask(0.9)
    reject(world.queue, second.id, as_user="oncall-cli", now=world.clock())
    rows = list_requests(world.queue)
    assert [r["id"] for r in rows] == [first.id]
    row = rows[0]
    assert row["action"] == "restart_workload" and row["target"] == "Deployment/shop/cart"
    assert row["risk"]["score"] == 0.6 and row["required_approvals"] == 1
    assert row["deadline"] == first.deadline.isoformat()
    json.dumps(rows)  # the --json contract is plain JSON
    assert [r["id"] for r in list_requests(world.queue, state=None)] == [first.id, second.id]


def test_cli_approve_runs_the_action_and_exits_zero(world: World) -> None:
    request = world.ask(0.6)
    outcome = approve(world.queue, request.id, as_user="oncall-cli", now=world.clock())
    assert (outcome.result, outcome.exit_code) == ("approved", 0)
    assert world.runs == [request.id]
    assert outcome.as_json()["request"]["approved_by"] == ["oncall-cli"]


def test_cli_refuses_names_not_configured_and_exits_one(world: World) -> None:
    request = world.ask(0.6)
    outcome = approve(world.queue, request.id, as_user="intruder", now=world.clock())
    assert (outcome.result, outcome.exit_code) == ("not_allowed", 1)
    assert "not on the approver list" in outcome.message
    assert world.runs == []


def test_cli_reject_stops_the_request(world: World) -> None:
    request = world.ask(0.6)
    outcome = reject(world.queue, request.id, as_user="UBOB", now=world.clock())
    assert (outcome.result, outcome.exit_code) == ("rejected", 0)
    current = world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.REJECTED


def test_cli_two_approver_band_counts_people_not_commands(world: World) -> None:
    request = world.ask(0.9)
    assert approve(world.queue, request.id, as_user="oncall-cli", now=world.clock()).result == "needs_another_approver"
    repeat = approve(world.queue, request.id, as_user="oncall-cli", now=world.clock())
    assert (repeat.result, repeat.exit_code) == ("already_voted", 1)
    assert world.runs == []
    assert approve(world.queue, request.id, as_user="UALICE", now=world.clock()).result == "approved"
    assert world.runs == [request.id]


def test_cli_after_deadline_and_unknown_id_are_refused(world: World) -> None:
    request = world.ask(0.6)
    world.clock.advance(900)
    late = approve(world.queue, request.id, as_user="oncall-cli", now=world.clock())
    assert (late.result, late.exit_code) == ("expired", 1)
    missing = approve(world.queue, "nope", as_user="oncall-cli", now=world.clock())
    assert (missing.result, missing.exit_code, missing.as_json()["request"]) == ("not_found", 1, None)
    assert world.runs == []
