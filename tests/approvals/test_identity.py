"""One person, one approver: votes from every channel resolve to the person behind them before the
allowlist, the requester check and the two-approver count, and the audit keeps both names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from approvals.authz import ApproverPolicy
from approvals.cli_channel import approve
from approvals.memory import InMemoryApprovalRepository
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import ApprovalQueue, Approved, NeedsAnotherApprover, NotAllowed
from approvals.settings import ApprovalSettings, PersonIdentities
from tests.approvals.conftest import T0, AuditLog, FakeClock, proposal, risk

A, R = VoteDecision.APPROVE, VoteDecision.REJECT
ALICE_MM = "a" * 26
ALICE_MM_OLD = "c" * 26
BOB_MM = "b" * 26

ALICE = PersonIdentities(slack=("UALICE",), mattermost=(ALICE_MM,), console=("alice@example.com",), cli=("alice", "al"))
BOB = PersonIdentities(slack=("UBOB",), console=("bob@example.com",))
ALICE_IDENTITIES: list[tuple[VoteChannel, str]] = [
    (VoteChannel.SLACK, "UALICE"),
    (VoteChannel.MATTERMOST, ALICE_MM),
    (VoteChannel.MATTERMOST, ALICE_MM_OLD),  # mapped by the older per-channel list to her Slack ID
    (VoteChannel.CONSOLE, "alice@example.com"),
    (VoteChannel.CLI, "alice"),
    (VoteChannel.CLI, "al"),
    (VoteChannel.CLI, "UALICE"),  # the CLI accepts a Slack user ID as that Slack user
]


def settings(**extra: object) -> ApprovalSettings:
    return ApprovalSettings(
        people={"alice": ALICE, "bob": BOB},
        mattermost_approvers={ALICE_MM_OLD: "UALICE"},
        two_approver_min_risk=0.8,
        **extra,
    )


def queue_of(approvals: ApprovalSettings, audit: AuditLog | None = None) -> ApprovalQueue:
    return ApprovalQueue(
        InMemoryApprovalRepository(),
        approvals,
        policy=ApproverPolicy(approvals),
        audit=audit or AuditLog(),
    )


def ask(queue: ApprovalQueue, total: float = 0.9, requested_by: str | None = None) -> str:
    return queue.request(
        proposal(requested_by),
        risk(total),
        incident_id="inc-1",
        incident_summary="cart restarts",
        threshold=0.5,
        now=T0,
    ).id


@given(votes=st.lists(st.sampled_from(ALICE_IDENTITIES), min_size=1, max_size=12))
def test_any_mix_of_one_persons_channel_identities_never_counts_as_two_approvers(
    votes: list[tuple[VoteChannel, str]],
) -> None:
    queue = queue_of(settings())
    request_id = ask(queue)

    results = [queue.vote(request_id, identity, A, channel=channel, now=T0) for channel, identity in votes]

    assert all(isinstance(r, NeedsAnotherApprover) for r in results)
    request = queue.get(request_id)
    assert request is not None and request.state is ApprovalState.PENDING
    assert request.approvers() == ["alice"]
    assert isinstance(queue.vote(request_id, "bob@example.com", A, channel=VoteChannel.CONSOLE, now=T0), Approved)


@given(
    votes=st.lists(
        st.tuples(st.sampled_from(["alice", "bob"]), st.sampled_from(list(VoteChannel))), min_size=1, max_size=10
    )
)
def test_the_band_approves_exactly_when_two_different_people_have_approved(
    votes: list[tuple[str, VoteChannel]],
) -> None:
    people = {"alice": ALICE, "bob": BOB.model_copy(update={"mattermost": (BOB_MM,), "cli": ("bob",)})}
    approvals = ApprovalSettings(people=people, two_approver_min_risk=0.8)
    queue = queue_of(approvals)
    request_id = ask(queue)
    seen: set[str] = set()

    for person, channel in votes:
        identity = people[person].on(channel)[0]
        result = queue.vote(request_id, identity, A, channel=channel, now=T0)
        if isinstance(result, Approved):
            break
        seen.add(person)
        assert len(seen) < 2

    request = queue.get(request_id)
    assert request is not None
    assert (request.state is ApprovalState.APPROVED) == (len({p for p, _ in votes}) >= 2)


def test_a_console_login_and_a_slack_id_of_one_person_are_one_approver() -> None:
    audit = AuditLog()
    queue = queue_of(settings(), audit)
    request_id = ask(queue)

    first = queue.vote(request_id, "alice@example.com", A, channel=VoteChannel.CONSOLE, now=T0)
    again = queue.vote(request_id, "UALICE", A, channel=VoteChannel.SLACK, now=T0)

    assert isinstance(first, NeedsAnotherApprover) and not first.repeated
    assert isinstance(again, NeedsAnotherApprover) and again.repeated
    (recorded,) = audit.of("approval_vote_recorded")
    assert recorded["approver"] == "alice"
    assert (recorded["channel"], recorded["channel_identity"]) == ("console", "alice@example.com")


def test_the_cli_resolves_its_name_to_the_person() -> None:
    queue = queue_of(settings())
    request_id = ask(queue)
    queue.vote(request_id, "UALICE", A, channel=VoteChannel.SLACK, now=T0)

    outcome = approve(queue, request_id, as_user="al", now=T0)

    assert outcome.result == "already_voted" and outcome.exit_code == 1


def test_a_requester_may_not_approve_from_another_channel() -> None:
    audit = AuditLog()
    queue = queue_of(settings(), audit)
    request_id = ask(queue, total=0.6, requested_by="UALICE")  # asked for an undo in Slack

    refused = queue.vote(request_id, "alice@example.com", A, channel=VoteChannel.CONSOLE, now=T0)

    assert isinstance(refused, NotAllowed) and "requested this action" in refused.reason
    (record,) = audit.of("approval_vote_refused")
    assert (record["approver"], record["channel_identity"]) == ("alice", "alice@example.com")
    assert isinstance(queue.vote(request_id, "UBOB", A, channel=VoteChannel.SLACK, now=T0), Approved)


def test_people_may_approve_from_each_channel_they_have_an_identity_on_and_no_other() -> None:
    policy = ApproverPolicy(settings())
    queue = queue_of(settings())
    request = queue.get(ask(queue, total=0.6))
    assert request is not None

    assert policy.check(request, "bob@example.com", A, channel=VoteChannel.CONSOLE) is None
    assert policy.may_operate("bob@example.com") is None
    assert policy.may_vote("UBOB", channel=VoteChannel.SLACK) is None
    assert policy.check(request, "bob", A, channel=VoteChannel.CLI) is not None  # no CLI identity
    assert policy.check(request, BOB_MM, A, channel=VoteChannel.MATTERMOST) is not None
    assert policy.check(request, "mallory@example.com", A, channel=VoteChannel.CONSOLE) is not None


def test_the_older_per_channel_lists_still_decide_for_identities_outside_people() -> None:
    approvals = ApprovalSettings(approver_user_ids=("UCAROL",), console_approvers=("carol@example.com",))
    queue = queue_of(approvals)
    request_id = ask(queue, total=0.6)

    assert isinstance(queue.vote(request_id, "carol@example.com", A, channel=VoteChannel.CONSOLE, now=T0), Approved)
    assert ApproverPolicy(approvals).may_vote("UCAROL", channel=VoteChannel.SLACK) is None


def test_whoever_is_on_call_counts_as_the_person_their_identity_belongs_to() -> None:
    class Rota:
        def on_call(self) -> frozenset[str]:
            return frozenset({"UBOB"})

    approvals = ApprovalSettings(people={"bob": PersonIdentities(slack=("UBOB",))}, cli_approvers=("ops",))
    policy = ApproverPolicy(approvals, on_call=Rota())
    queue = ApprovalQueue(InMemoryApprovalRepository(), approvals, policy=policy, audit=AuditLog())
    request = queue.get(ask(queue, total=0.6, requested_by="UBOB"))
    assert request is not None

    refusal = policy.check(request, "UBOB", A, channel=VoteChannel.CLI)

    assert refusal is not None and "requested" in refusal.reason


def test_one_identity_may_not_belong_to_two_people() -> None:
    with pytest.raises(ValidationError, match="belongs to alice and bob"):
        ApprovalSettings(people={"alice": ALICE, "bob": PersonIdentities(slack=("UALICE",))})
    with pytest.raises(ValidationError, match=r"both approvals\.people and mattermost_approvers"):
        ApprovalSettings(people={"alice": ALICE}, mattermost_approvers={ALICE_MM: "UALICE"})


def test_a_person_named_in_people_is_shown_by_name_not_as_a_broken_mention() -> None:
    from approvals.render import request_message

    queue = queue_of(settings())
    request_id = ask(queue)
    queue.vote(request_id, "UALICE", A, channel=VoteChannel.SLACK, now=T0)
    request = queue.get(request_id)
    assert request is not None

    text = str(request_message(request))

    assert "<@alice>" not in text and "`alice` (Slack)" in text


def test_a_reject_from_any_identity_is_recorded_under_the_person(clock: FakeClock) -> None:
    queue = queue_of(settings())
    request_id = ask(queue)

    queue.vote(request_id, ALICE_MM, R, channel=VoteChannel.MATTERMOST, now=clock())

    request = queue.get(request_id)
    assert request is not None and request.state is ApprovalState.REJECTED and request.rejecters() == ["alice"]
