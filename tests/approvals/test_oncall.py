"""Approvers from the rota: whoever PagerDuty or Opsgenie says is on call may approve, cached;
when the schedule cannot be read only the static lists decide."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from approvals.authz import ApproverPolicy
from approvals.model import VoteChannel, VoteDecision
from approvals.oncall import CachedOnCall, OnCallLookupFailed, OpsgenieOnCall, PagerDutyOnCall
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import AuditLog, FakeClock, World


class Schedules:
    """PagerDuty's /oncalls and Opsgenie's /v2/schedules/{id}/on-calls on one local server."""

    def __init__(self) -> None:
        self.pagerduty: list[dict[str, Any]] = []
        self.opsgenie: dict[str, list[str]] = {}
        self.down = False
        self.requests: list[tuple[str, dict[str, list[str]], str]] = []
        self.url = ""


@pytest.fixture
def schedules() -> Iterator[Schedules]:
    state = Schedules()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append((parts.path, parse_qs(parts.query), self.headers.get("Authorization", "")))
            if state.down:
                self.send_response(503)
                self.end_headers()
                return
            if parts.path == "/oncalls":
                body: dict[str, Any] = {"oncalls": state.pagerduty}
            else:
                schedule = parts.path.split("/")[3]
                body = {"data": {"onCallRecipients": state.opsgenie.get(schedule, [])}}
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def oncall_entry(user: str, level: int = 1) -> dict[str, Any]:
    return {"user": {"id": user, "summary": user}, "escalation_level": level, "schedule": {"id": "PSCHED"}}


def test_pagerduty_level_one_on_call_mapped_to_approver_identities(schedules: Schedules) -> None:
    schedules.pagerduty = [oncall_entry("PCAROL"), oncall_entry("PDAVE", level=2), oncall_entry("PUNMAPPED")]
    directory = PagerDutyOnCall(
        api_key="pd-key", schedule_ids=["PSCHED"], identities={"PCAROL": "UCAROL", "PDAVE": "UDAVE"}, url=schedules.url
    )

    assert directory.on_call() == frozenset({"UCAROL"})
    path, query, auth = schedules.requests[0]
    assert (path, query["schedule_ids[]"], auth) == ("/oncalls", ["PSCHED"], "Token token=pd-key")


def test_opsgenie_on_call_of_every_schedule(schedules: Schedules) -> None:
    schedules.opsgenie = {"s1": ["carol@example.com"], "s2": ["dave@example.com"]}
    directory = OpsgenieOnCall(
        api_key="og",
        schedule_ids=["s1", "s2"],
        identities={"carol@example.com": "UCAROL", "dave@example.com": "oncall-dave"},
        url=schedules.url,
    )

    assert directory.on_call() == frozenset({"UCAROL", "oncall-dave"})
    assert all(q["flat"] == ["true"] and auth == "GenieKey og" for _, q, auth in schedules.requests)


def test_an_unreachable_schedule_is_a_lookup_failure(schedules: Schedules) -> None:
    schedules.down = True
    directory = PagerDutyOnCall(api_key="k", schedule_ids=["P"], identities={}, url=schedules.url)

    with pytest.raises(OnCallLookupFailed, match="503"):
        directory.on_call()


def test_answers_are_cached_and_failures_are_not(schedules: Schedules, clock: FakeClock) -> None:
    schedules.pagerduty = [oncall_entry("PCAROL")]
    inner = PagerDutyOnCall(api_key="k", schedule_ids=["P"], identities={"PCAROL": "UCAROL"}, url=schedules.url)
    cached = CachedOnCall(inner, ttl=timedelta(seconds=60), clock=clock)

    cached.on_call()
    cached.on_call()
    assert len(schedules.requests) == 1
    clock.advance(61)
    schedules.pagerduty = [oncall_entry("PDAVE")]
    assert cached.on_call() == frozenset()
    assert len(schedules.requests) == 2


def test_the_person_on_call_may_approve_and_nobody_else_gains_by_it(
    schedules: Schedules, clock: FakeClock, audit: AuditLog
) -> None:
    settings = ApprovalSettings(approver_user_ids=("UALICE",))
    schedules.pagerduty = [oncall_entry("PCAROL")]
    directory = PagerDutyOnCall(api_key="k", schedule_ids=["P"], identities={"PCAROL": "UCAROL"}, url=schedules.url)
    request = World(settings, clock, audit).ask()

    policy = ApproverPolicy(settings, on_call=directory)
    assert policy.check(request, "UCAROL", VoteDecision.APPROVE, channel=VoteChannel.SLACK) is None
    assert policy.check(request, "UCAROL", VoteDecision.APPROVE, channel=VoteChannel.CLI) is None
    assert policy.check(request, "UALICE", VoteDecision.APPROVE, channel=VoteChannel.SLACK) is None
    assert policy.check(request, "UMALLORY", VoteDecision.APPROVE, channel=VoteChannel.SLACK) is not None


def test_when_the_schedule_is_down_only_the_static_lists_decide(schedules: Schedules, clock: FakeClock) -> None:
    settings = ApprovalSettings(approver_user_ids=("UALICE",))
    schedules.down = True
    directory = PagerDutyOnCall(api_key="k", schedule_ids=["P"], identities={"PCAROL": "UCAROL"}, url=schedules.url)
    request = World(settings, clock, AuditLog()).ask()
    policy = ApproverPolicy(settings, on_call=directory)

    assert policy.check(request, "UCAROL", VoteDecision.APPROVE, channel=VoteChannel.SLACK) is not None
    assert policy.check(request, "UALICE", VoteDecision.APPROVE, channel=VoteChannel.SLACK) is None


def test_being_on_call_does_not_let_the_requester_approve_their_own_undo(
    schedules: Schedules, clock: FakeClock
) -> None:
    settings = ApprovalSettings(approver_user_ids=("UALICE",))
    schedules.pagerduty = [oncall_entry("PCAROL")]
    directory = PagerDutyOnCall(api_key="k", schedule_ids=["P"], identities={"PCAROL": "UCAROL"}, url=schedules.url)
    request = World(settings, clock, AuditLog()).ask(requested_by="UCAROL")

    refusal = ApproverPolicy(settings, on_call=directory).check(
        request, "UCAROL", VoteDecision.APPROVE, channel=VoteChannel.SLACK
    )
    assert refusal is not None and "requested" in refusal.reason


class FixedOnCall:
    """On call: exactly these identities."""

    def __init__(self, *people: str) -> None:
        self.people = frozenset(people)

    def on_call(self) -> frozenset[str]:
        return self.people


def test_a_console_login_equal_to_an_on_call_identity_does_not_pass_the_console_list(
    clock: FakeClock, audit: AuditLog
) -> None:
    """The console's proxy identities are another name space: a console user whose login happens
    to be an on-call Slack ID or CLI name is not thereby a console approver."""
    settings = ApprovalSettings(approver_user_ids=("UALICE",), console_approvers=("alice@example.com",))
    request = World(settings, clock, audit).ask()
    policy = ApproverPolicy(settings, on_call=FixedOnCall("UCAROL", "carol"))

    for login in ("UCAROL", "carol"):
        refusal = policy.check(request, login, VoteDecision.APPROVE, channel=VoteChannel.CONSOLE)
        assert refusal is not None and "console approver list" in refusal.reason
    assert policy.check(request, "alice@example.com", VoteDecision.APPROVE, channel=VoteChannel.CONSOLE) is None
    assert policy.check(request, "carol", VoteDecision.APPROVE, channel=VoteChannel.CLI) is None
