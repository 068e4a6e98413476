"""Hostile requests to Slack's HTTP mode: odd bytes and headers are refusals, never crashes;
replays are refused; every refused click is recorded; Undo needs approving authority."""

from __future__ import annotations

import pytest

from approvals.model import ApprovalState
from approvals.render import APPROVE_ACTION_ID, REJECT_ACTION_ID, UNDO_ACTION_ID
from approvals.settings import SlackSettings
from tests.approvals.conftest import World, click_body, sign
from tests.approvals.fake_slack import FakeSlack
from tests.approvals.test_slack_http import SlackWorld, wire_slack


@pytest.fixture
def sw(world: World, slack_settings: SlackSettings, fake_slack: FakeSlack) -> SlackWorld:
    return wire_slack(world, slack_settings, fake_slack)


def test_a_body_that_is_not_utf8_is_a_400_with_an_audit_record(sw: SlackWorld) -> None:
    body = b"payload=\xff\xfe\xfd"
    headers = sign(body, int(sw.world.clock().timestamp()))

    assert sw.http.handle_interaction(headers, body, sw.world.clock())[0] == 400
    assert sw.world.audit.of("slack_request_rejected")[0]["reason"] == "body is not UTF-8"


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", "12 ", "-5", "9" * 40, "1e9"])
def test_a_timestamp_that_is_not_ascii_digits_is_a_401_with_an_audit_record(sw: SlackWorld, timestamp: str) -> None:
    body = click_body(APPROVE_ACTION_ID, "req1", user="UALICE")
    headers = {**sign(body, int(sw.world.clock().timestamp())), "X-Slack-Request-Timestamp": timestamp}

    assert sw.http.handle_interaction(headers, body, sw.world.clock())[0] == 401
    [record] = sw.world.audit.of("slack_request_rejected")
    assert record["reason"] == "malformed signature headers"
    assert len(str(record["timestamp"])) <= 40


def test_a_replayed_request_is_refused_and_recorded(sw: SlackWorld) -> None:
    request = sw.world.ask(0.9)  # two approvers needed: a replay must not count twice
    body = click_body(APPROVE_ACTION_ID, request.id, user="UALICE")
    headers = sign(body, int(sw.world.clock().timestamp()))

    assert sw.http.handle_interaction(headers, body, sw.world.clock())[0] == 200
    assert sw.http.handle_interaction(headers, body, sw.world.clock())[0] == 401

    assert sw.world.audit.of("slack_request_rejected")[-1]["reason"] == "replayed request"
    current = sw.world.queue.get(request.id)
    assert current is not None and len(current.votes) == 1


def test_accept_answers_first_and_applies_the_click_as_a_job(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    body = click_body(APPROVE_ACTION_ID, request.id, user="UALICE")
    answer = sw.http.accept(sign(body, int(sw.world.clock().timestamp())), body, sw.world.clock())

    assert (answer.status, answer.job is not None) == (200, True)
    assert sw.world.runs == []  # nothing applied while answering
    assert answer.job is not None
    answer.job()
    assert sw.world.runs == [request.id]


def test_every_refused_click_leaves_a_record(sw: SlackWorld) -> None:
    twice = sw.world.ask(0.9)
    sw.click(APPROVE_ACTION_ID, twice.id, user="UALICE")
    sw.click(APPROVE_ACTION_ID, twice.id, user="UALICE")  # repeat vote
    sw.click(APPROVE_ACTION_ID, "req-that-never-was", user="UALICE")  # unknown id
    decided = sw.world.ask(0.6)
    sw.click(REJECT_ACTION_ID, decided.id, user="UBOB")
    sw.click(APPROVE_ACTION_ID, decided.id, user="UALICE")  # already decided
    late = sw.world.ask(0.6)
    sw.world.clock.advance(10_000)
    sw.click(APPROVE_ACTION_ID, late.id, user="UALICE")  # expired

    reasons = [r["reason"] for r in sw.world.audit.of("click_refused")]
    assert reasons == ["repeat vote", "unknown request id", "already decided (rejected)", "expired"]


def test_undo_by_someone_without_approving_authority_is_refused_and_recorded(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")
    assert sw.world.runs == [request.id]  # the leader's dispatch ran it

    sw.click(UNDO_ACTION_ID, request.id, user="UMALLORY")
    sw.click(UNDO_ACTION_ID, "req-that-never-was", user="UBOB")

    assert sw.undos == []
    refused = sw.world.audit.of("undo_refused")
    assert [r["user"] for r in refused] == ["UMALLORY", "UBOB"]
    assert "approver list" in str(refused[0]["reason"])
    assert any("not accepted" in t for t in sw.ephemerals())

    sw.click(UNDO_ACTION_ID, request.id, user="UBOB")
    assert sw.undos == [(request.id, "UBOB")]
    state = sw.world.queue.get(request.id)
    assert state is not None and state.state is ApprovalState.SUCCEEDED
