"""Slack end to end against a local fake Web API: signed clicks, forged and stale requests,
refusals, expiry with escalation, retries, and the CLI when Slack fails."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import pytest

from approvals.authz import ApproverPolicy, CachedGroupDirectory
from approvals.cli_channel import approve as cli_approve
from approvals.memory import InMemoryApprovalRepository
from approvals.model import ApprovalState
from approvals.render import APPROVE_ACTION_ID, REJECT_ACTION_ID, UNDO_ACTION_ID
from approvals.settings import ApprovalSettings, SlackSettings
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, SlackInteractions
from tests.approvals.conftest import AuditLog, FakeClock, World, click_body, sign
from tests.approvals.fake_slack import FakeSlack


@dataclass
class SlackWorld:
    world: World
    fake: FakeSlack
    channel: SlackChannel
    http: SlackInteractions
    sleeps: list[float]
    undos: list[tuple[str, str]]

    def click(self, action_id: str, request_id: str, *, user: str, age: float = 1.0) -> tuple[int, str]:
        body = click_body(action_id, request_id, user=user)
        self.world.clock.advance(1)  # every click is a new, separately signed request (no replay)
        ts = int(self.world.clock().timestamp() - age)
        return self.http.handle_interaction(sign(body, ts), body, self.world.clock())

    def ephemerals(self) -> list[str]:
        return [str(c.args["text"]) for c in self.fake.calls_to("chat.postEphemeral")]

    def texts(self, method: str) -> list[str]:
        return [json.dumps(c.args["blocks"]) for c in self.fake.calls_to(method)]


def wire_slack(world: World, slack_settings: SlackSettings, fake_slack: FakeSlack) -> SlackWorld:
    sleeps: list[float] = []
    undos: list[tuple[str, str]] = []
    channel = SlackChannel(
        slack_settings,
        repository=world.repo,
        audit=world.audit,
        escalation_mention=world.settings.escalation_mention,
        sleep=sleeps.append,
    )
    world.queue = world.build_queue(channel)

    def on_undo(request_id: str, user: str) -> str:
        undos.append((request_id, user))
        return "Undo requested: it is scored like any proposal and may need approval."

    handler = ClickHandler(
        world.queue, channel, on_undo=on_undo, policy=ApproverPolicy(world.settings), audit=world.audit
    )
    http = SlackInteractions(slack_settings, handler, audit=world.audit)
    return SlackWorld(world, fake_slack, channel, http, sleeps, undos)


@pytest.fixture
def sw(world: World, slack_settings: SlackSettings, fake_slack: FakeSlack) -> SlackWorld:
    return wire_slack(world, slack_settings, fake_slack)


def test_signed_click_approves_runs_once_and_updates_the_message(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    [posted] = sw.fake.calls_to("chat.postMessage")
    assert posted.args["channel"] == "CAPPROVALS"
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UALICE") == (200, "")
    assert sw.world.runs == [request.id]
    updates = sw.texts("chat.update")
    assert any("Approved by <@UALICE>" in u for u in updates)
    assert "Succeeded" in sw.fake.calls_to("chat.update")[-1].args["text"]
    replies = [c for c in sw.fake.calls_to("chat.postMessage") if "thread_ts" in c.args]
    assert len(replies) == 1 and "rollout complete" in json.dumps(replies[0].args["blocks"])


def test_double_click_still_runs_once_and_the_second_click_is_told(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")[0] == 200
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")[0] == 200
    assert sw.world.runs == [request.id]
    assert any("already decided" in t for t in sw.ephemerals())


def test_forged_signature_gets_401_and_an_audit_record_and_nothing_runs(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    body = click_body(APPROVE_ACTION_ID, request.id, user="UALICE")
    headers = sign(body, int(sw.world.clock().timestamp()), secret="not-the-secret")
    assert sw.http.handle_interaction(headers, body, sw.world.clock()) == (401, "invalid request")
    assert sw.world.audit.of("slack_request_rejected")[0]["reason"] == "signature mismatch"
    assert sw.world.runs == []
    current = sw.world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.PENDING and current.votes == ()


def test_body_tampered_after_signing_gets_401(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    signed = click_body(APPROVE_ACTION_ID, request.id, user="UMALLORY")
    headers = sign(signed, int(sw.world.clock().timestamp()))
    tampered = click_body(APPROVE_ACTION_ID, request.id, user="UALICE")
    assert sw.http.handle_interaction(headers, tampered, sw.world.clock())[0] == 401
    assert sw.world.runs == []


def test_request_older_than_five_minutes_gets_401_and_an_audit_record(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UALICE", age=301)[0] == 401
    assert sw.world.audit.of("slack_request_rejected")[0]["reason"] == "timestamp outside the allowed window"
    assert sw.world.runs == []
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UALICE", age=299)[0] == 200
    assert sw.world.runs == [request.id]


def test_missing_signature_headers_get_401(sw: SlackWorld) -> None:
    body = click_body(APPROVE_ACTION_ID, "req1", user="UALICE")
    assert sw.http.handle_interaction({}, body, sw.world.clock())[0] == 401
    assert sw.world.audit.of("slack_request_rejected")[0]["reason"] == "missing signature headers"


def test_user_not_on_the_list_is_refused_told_so_and_nothing_runs(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    assert sw.click(APPROVE_ACTION_ID, request.id, user="UMALLORY")[0] == 200
    assert sw.world.runs == []
    [ephemeral] = sw.fake.calls_to("chat.postEphemeral")
    assert ephemeral.args["user"] == "UMALLORY"
    assert "not on the approver list" in str(ephemeral.args["text"])
    current = sw.world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.PENDING


def test_two_approver_band_in_slack_needs_two_different_people(sw: SlackWorld) -> None:
    request = sw.world.ask(0.9)
    sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")
    sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")
    assert sw.world.runs == []
    assert any("same person twice is one approval" in t for t in sw.ephemerals())
    assert "1 of 2 so far (<@UALICE>)" in sw.texts("chat.update")[-1]
    sw.click(APPROVE_ACTION_ID, request.id, user="UBOB")
    assert sw.world.runs == [request.id]


def test_reject_click_rejects_and_updates_the_message(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    sw.click(REJECT_ACTION_ID, request.id, user="UBOB")
    current = sw.world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.REJECTED
    assert "Rejected by <@UBOB>" in sw.texts("chat.update")[-1]
    assert sw.world.runs == []


def test_expiry_updates_the_message_with_the_escalation_mention_and_a_later_click_is_refused(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    sw.world.clock.advance(900)
    assert [r.id for r in sw.world.queue.expire_due(sw.world.clock())] == [request.id]
    update = sw.fake.calls_to("chat.update")[-1]
    assert "<!subteam^SONCALL>" in str(update.args["text"])
    assert "scutum_approve" not in json.dumps(update.args["blocks"])
    sw.click(APPROVE_ACTION_ID, request.id, user="UALICE")
    assert sw.world.runs == []
    assert any("expired" in t for t in sw.ephemerals())


def test_server_errors_are_retried_with_backoff(sw: SlackWorld) -> None:
    sw.fake.fail_next("chat.postMessage", times=2, status=503)
    request = sw.world.ask(0.6)
    assert len(sw.fake.calls_to("chat.postMessage")) == 3
    assert len(sw.sleeps) == 2 and sw.sleeps[0] >= 0.5 and sw.sleeps[1] >= 1.0
    current = sw.world.queue.get(request.id)
    assert current is not None and current.slack_ts is not None


@pytest.mark.parametrize("http_429", [True, False])
def test_ratelimited_answers_are_retried_after_retry_after(sw: SlackWorld, http_429: bool) -> None:
    sw.fake.ratelimit_next("chat.postMessage", times=1, retry_after=7, http_429=http_429)
    request = sw.world.ask(0.6)
    assert sw.sleeps == [7.0]
    current = sw.world.queue.get(request.id)
    assert current is not None and current.slack_ts is not None


def test_slack_down_leaves_the_request_pending_and_the_cli_can_approve_it(sw: SlackWorld) -> None:
    sw.fake.fail_next("chat.postMessage", times=10, status=500)
    request = sw.world.ask(0.6)
    assert len(sw.fake.calls_to("chat.postMessage")) == 4  # first try and three retries
    assert sw.world.audit.of("slack_call_failed")[0]["method"] == "chat.postMessage"
    current = sw.world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.PENDING and current.slack_ts is None
    outcome = cli_approve(sw.world.queue, request.id, as_user="oncall-cli", now=sw.world.clock())
    assert outcome.result == "approved" and outcome.exit_code == 0
    assert sw.world.runs == [request.id]


def test_slack_rate_limit_that_persists_leaves_the_request_pending(sw: SlackWorld) -> None:
    sw.fake.ratelimit_next("chat.postMessage", times=10, retry_after=1)
    request = sw.world.ask(0.6)
    assert sw.sleeps == [1.0, 1.0, 1.0]
    current = sw.world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.PENDING


def test_group_members_resolved_through_the_web_api_may_approve(
    slack_settings: SlackSettings, fake_slack: FakeSlack, clock: FakeClock, audit: AuditLog
) -> None:
    fake_slack.groups["SONCALL"] = ["UCAROL"]
    directory = SlackChannel(slack_settings, repository=InMemoryApprovalRepository(), audit=audit)
    groups = CachedGroupDirectory(directory, ttl=timedelta(seconds=60), clock=clock)
    world = World(ApprovalSettings(approver_groups=("SONCALL",)), clock, audit, groups=groups)
    sw = wire_slack(world, slack_settings, fake_slack)
    first, second = world.ask(0.6), world.ask(0.6)
    sw.click(APPROVE_ACTION_ID, first.id, user="UDAVE")
    sw.click(APPROVE_ACTION_ID, first.id, user="UCAROL")
    sw.click(APPROVE_ACTION_ID, second.id, user="UCAROL")
    assert world.runs == [first.id, second.id]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1  # cached


def test_unknown_group_denies_instead_of_failing(
    slack_settings: SlackSettings, fake_slack: FakeSlack, clock: FakeClock, audit: AuditLog
) -> None:
    directory = SlackChannel(slack_settings, repository=InMemoryApprovalRepository(), audit=audit)
    world = World(ApprovalSettings(approver_groups=("SGONE",)), clock, audit, groups=directory)
    sw = wire_slack(world, slack_settings, fake_slack)
    request = world.ask(0.6)
    sw.click(APPROVE_ACTION_ID, request.id, user="UCAROL")
    assert world.runs == []
    assert any("could not be checked" in t for t in sw.ephemerals())


def test_undo_click_is_handed_to_the_agent_with_who_clicked(sw: SlackWorld) -> None:
    request = sw.world.ask(0.6)
    assert sw.click(UNDO_ACTION_ID, request.id, user="UBOB")[0] == 200
    assert sw.undos == [(request.id, "UBOB")]
    assert any("Undo requested" in t for t in sw.ephemerals())


def test_malformed_payload_gets_400_and_an_audit_record(sw: SlackWorld) -> None:
    body = b"payload=%7Bnot-json"
    headers: Mapping[str, str] = sign(body, int(sw.world.clock().timestamp()))
    assert sw.http.handle_interaction(headers, body, sw.world.clock())[0] == 400
    assert sw.world.audit.names()[-1] == "slack_payload_invalid"
