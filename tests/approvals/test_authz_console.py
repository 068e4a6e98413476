"""Console votes: only the console approver list counts, Slack IDs and CLI names do not."""

from __future__ import annotations

from approvals.authz import ApproverPolicy
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import Approved, NeedsAnotherApprover, NotAllowed
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import AuditLog, FakeClock, World

A = VoteDecision.APPROVE


def test_only_the_console_list_may_vote_from_the_console(world: World) -> None:
    settings = ApprovalSettings(
        approver_user_ids=("UALICE",), cli_approvers=("oncall",), console_approvers=("alice@example.org",)
    )
    policy = ApproverPolicy(settings)
    request = world.ask(0.6)
    assert policy.check(request, "alice@example.org", A, channel=VoteChannel.CONSOLE) is None
    for other in ("UALICE", "oncall", "mallory@example.org"):
        refusal = policy.check(request, other, A, channel=VoteChannel.CONSOLE)
        assert refusal is not None and "console approver list" in refusal.reason
    assert policy.check(request, "alice@example.org", A, channel=VoteChannel.CLI) is not None
    assert policy.may_operate("alice@example.org") is None and policy.may_operate("oncall") is not None


def test_an_empty_console_list_allows_nobody() -> None:
    refusal = ApproverPolicy(ApprovalSettings(approver_user_ids=("UALICE",))).may_operate("UALICE")
    assert refusal is not None and "nobody may act from the console" in refusal.reason


def test_the_requester_cannot_approve_from_the_console_either(world: World) -> None:
    policy = ApproverPolicy(ApprovalSettings(console_approvers=("alice@example.org",)))
    request = world.ask(0.6, requested_by="alice@example.org")
    refusal = policy.check(request, "alice@example.org", A, channel=VoteChannel.CONSOLE)
    assert refusal is not None and "someone else must approve" in refusal.reason


def test_the_two_approver_band_holds_for_console_votes(clock: FakeClock, audit: AuditLog) -> None:
    settings = ApprovalSettings(console_approvers=("alice@example.org", "bob@example.org"), two_approver_min_risk=0.8)
    world = World(settings, clock, audit)
    request = world.ask(0.9)
    first = world.queue.vote(request.id, "alice@example.org", A, channel=VoteChannel.CONSOLE, now=clock())
    again = world.queue.vote(request.id, "alice@example.org", A, channel=VoteChannel.CONSOLE, now=clock())
    assert isinstance(first, NeedsAnotherApprover) and isinstance(again, NeedsAnotherApprover) and again.repeated
    second = world.queue.vote(request.id, "bob@example.org", A, channel=VoteChannel.CONSOLE, now=clock())
    assert isinstance(second, Approved) and second.request.state is not ApprovalState.PENDING
    refused = world.queue.vote(world.ask(0.9).id, "UALICE", A, channel=VoteChannel.CONSOLE, now=clock())
    assert isinstance(refused, NotAllowed)
