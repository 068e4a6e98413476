"""The approval state machine and ApprovalQueue over the in-memory repository."""

from __future__ import annotations

import threading

import pytest

from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import (
    AlreadyDecided,
    Approved,
    Expired,
    NeedsAnotherApprover,
    NotAllowed,
    NotFound,
    Rejected,
    can_transition,
    needs_reapproval,
)
from tests.approvals.conftest import World, risk

A, R = VoteDecision.APPROVE, VoteDecision.REJECT
SLACK, CLI = VoteChannel.SLACK, VoteChannel.CLI


def test_state_machine_allows_only_the_documented_moves() -> None:
    assert can_transition(ApprovalState.PENDING, ApprovalState.APPROVED)
    assert can_transition(ApprovalState.APPROVED, ApprovalState.EXECUTING)
    assert can_transition(ApprovalState.EXECUTING, ApprovalState.SUCCEEDED)
    assert not can_transition(ApprovalState.PENDING, ApprovalState.EXECUTING)
    assert not can_transition(ApprovalState.EXPIRED, ApprovalState.APPROVED)
    assert not can_transition(ApprovalState.REJECTED, ApprovalState.APPROVED)
    assert not can_transition(ApprovalState.SUCCEEDED, ApprovalState.EXECUTING)


def test_request_is_pending_with_deadline_from_settings_and_audited(world: World) -> None:
    request = world.ask(0.6)
    assert request.state is ApprovalState.PENDING
    assert (request.deadline - request.created_at).total_seconds() == 900
    assert request.required_approvals == 1
    assert request.risk["components"]["blast_radius"]["reasons"] == ["2 of 3 ready replicas restart at once"]
    assert request.params == {"namespace": "shop", "name": "cart"}
    assert world.audit.names() == ["approval_requested"]


def test_one_approval_runs_the_action_once_and_records_every_step(world: World) -> None:
    request = world.ask(0.6)
    result = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(result, Approved)
    assert world.runs == [request.id]
    final = world.queue.get(request.id)
    assert final is not None and final.state is ApprovalState.SUCCEEDED
    assert final.approvers() == ["UALICE"]
    assert world.audit.names() == [
        "approval_requested",
        "approval_vote_recorded",
        "approval_approved",
        "approval_executing",
        "approval_succeeded",
    ]


def test_double_click_runs_the_action_once(world: World) -> None:
    request = world.ask(0.6)
    first = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    second = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(first, Approved)
    assert isinstance(second, AlreadyDecided)
    assert world.runs == [request.id]


def test_concurrent_votes_from_two_replicas_produce_exactly_one_winner(world: World) -> None:
    request = world.ask(0.6)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def click(user: str) -> None:
        barrier.wait()
        results.append(world.queue.vote(request.id, user, A, channel=SLACK, now=world.clock()))

    threads = [threading.Thread(target=click, args=("UALICE" if i % 2 else "UBOB",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Approved) for r in results) == 1
    assert world.runs == [request.id]


def test_rejection_stops_the_request_and_nothing_runs(world: World) -> None:
    request = world.ask(0.6)
    assert isinstance(world.queue.vote(request.id, "UBOB", R, channel=SLACK, now=world.clock()), Rejected)
    later = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(later, AlreadyDecided)
    assert world.runs == []
    assert world.audit.of("approval_rejected")[0]["rejected_by"] == ["UBOB"]


def test_user_not_on_the_list_is_refused_audited_and_nothing_runs(world: World) -> None:
    request = world.ask(0.6)
    result = world.queue.vote(request.id, "UMALLORY", A, channel=SLACK, now=world.clock())
    assert isinstance(result, NotAllowed)
    assert "not on the approver list" in result.reason
    assert world.runs == []
    assert world.audit.of("approval_vote_refused")[0]["approver"] == "UMALLORY"
    current = world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.PENDING and current.votes == ()


def test_high_risk_needs_two_different_approvers_and_the_same_person_twice_is_one(world: World) -> None:
    request = world.ask(0.85)
    assert request.required_approvals == 2
    first = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    again = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(first, NeedsAnotherApprover) and first.approvals == 1
    assert isinstance(again, NeedsAnotherApprover) and again.repeated and again.approvals == 1
    assert world.runs == []
    second = world.queue.vote(request.id, "UBOB", A, channel=SLACK, now=world.clock())
    assert isinstance(second, Approved)
    assert second.request.approvers() == ["UALICE", "UBOB"]
    assert world.runs == [request.id]


def test_requester_cannot_approve_their_own_undo_but_another_approver_can(world: World) -> None:
    request = world.ask(0.6, requested_by="UALICE")
    own = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(own, NotAllowed) and "you requested this action" in own.reason
    assert world.runs == []
    assert isinstance(world.queue.vote(request.id, "UBOB", A, channel=SLACK, now=world.clock()), Approved)


def test_request_expires_on_time_escalates_and_a_later_click_is_refused(world: World) -> None:
    request = world.ask(0.6)
    world.clock.advance(899)
    assert world.queue.expire_due(world.clock()) == []
    world.clock.advance(1)
    expired = world.queue.expire_due(world.clock())
    assert [r.id for r in expired] == [request.id]
    assert expired[0].state is ApprovalState.EXPIRED
    assert world.audit.of("approval_expired")[0]["escalated_to"] == "<!subteam^SONCALL>"
    assert world.queue.expire_due(world.clock()) == []  # a second sweep (another replica) does nothing
    late = world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert isinstance(late, Expired)
    assert world.runs == []


def test_click_after_deadline_before_the_sweep_is_refused_and_expires_the_request(world: World) -> None:
    request = world.ask(0.6)
    world.clock.advance(901)
    assert isinstance(world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock()), Expired)
    current = world.queue.get(request.id)
    assert current is not None and current.state is ApprovalState.EXPIRED
    assert world.runs == []


def test_unknown_request_is_not_found(world: World) -> None:
    assert isinstance(world.queue.vote("nope", "UALICE", A, channel=SLACK, now=world.clock()), NotFound)


def test_execution_claim_is_won_once(world: World) -> None:
    world.auto_execute = False
    request = world.ask(0.6)
    world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert world.queue.mark_executing(request.id, now=world.clock())
    assert not world.queue.mark_executing(request.id, now=world.clock())
    assert world.queue.mark_failed(request.id, now=world.clock(), result="dry run refused: forbidden")
    final = world.queue.get(request.id)
    assert final is not None and final.state is ApprovalState.FAILED
    assert final.result == "dry run refused: forbidden"


@pytest.mark.parametrize(
    ("approved", "current", "vetoed", "expected"),
    [(0.6, 0.64, False, False), (0.6, 0.66, False, True), (0.6, 0.1, True, True), (0.6, 0.6, False, False)],
)
def test_reapproval_needed_when_risk_rises_past_margin_or_a_veto_applies(
    approved: float, current: float, vetoed: bool, expected: bool
) -> None:
    assert needs_reapproval(approved, current, margin=0.05, vetoed=vetoed) is expected


def test_reask_supersedes_the_approved_request_and_asks_again_with_new_risk(world: World) -> None:
    world.auto_execute = False
    request = world.ask(0.6)
    world.queue.vote(request.id, "UALICE", A, channel=SLACK, now=world.clock())
    assert world.queue.mark_executing(request.id, now=world.clock())
    fresh = world.queue.reask(request.id, risk(0.9), now=world.clock(), reason="risk rose from 0.60 to 0.90")
    assert fresh is not None
    assert fresh.id != request.id and fresh.state is ApprovalState.PENDING
    assert fresh.required_approvals == 2 and fresh.votes == ()
    old = world.queue.get(request.id)
    assert old is not None and old.state is ApprovalState.SUPERSEDED
    assert world.queue.reask(request.id, risk(0.9), now=world.clock(), reason="again") is None


def test_cli_vote_counts_for_configured_cli_names(world: World) -> None:
    request = world.ask(0.6)
    assert isinstance(world.queue.vote(request.id, "oncall-cli", A, channel=CLI, now=world.clock()), Approved)
    assert world.runs == [request.id]
