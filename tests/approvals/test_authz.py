"""Who may approve: deny by default, user IDs, groups (cached), CLI names, requesters."""

from __future__ import annotations

from datetime import timedelta

from approvals.authz import ApproverPolicy, CachedGroupDirectory, GroupLookupFailed, required_approvals
from approvals.model import ApprovalRequest, VoteChannel, VoteDecision
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import FakeClock, World

A, R = VoteDecision.APPROVE, VoteDecision.REJECT


class Directory:
    def __init__(self, groups: dict[str, set[str]]) -> None:
        self.groups = groups
        self.lookups = 0
        self.down = False

    def group_members(self, group_id: str) -> frozenset[str]:
        self.lookups += 1
        if self.down or group_id not in self.groups:
            raise GroupLookupFailed(group_id)
        return frozenset(self.groups[group_id])


def a_request(world: World, requested_by: str | None = None) -> ApprovalRequest:
    return world.ask(0.6, requested_by=requested_by)


def test_empty_allowlist_allows_nobody(world: World) -> None:
    policy = ApproverPolicy(ApprovalSettings())
    request = a_request(world)
    refusal = policy.check(request, "UALICE", A, channel=VoteChannel.SLACK)
    assert refusal is not None and "nobody may approve" in refusal.reason
    assert policy.check(request, "oncall-cli", A, channel=VoteChannel.CLI) is not None


def test_group_members_may_approve_and_others_may_not(world: World) -> None:
    policy = ApproverPolicy(ApprovalSettings(approver_groups=("SONCALL",)), groups=Directory({"SONCALL": {"UCAROL"}}))
    request = a_request(world)
    assert policy.check(request, "UCAROL", A, channel=VoteChannel.SLACK) is None
    assert policy.check(request, "UDAVE", A, channel=VoteChannel.SLACK) is not None


def test_group_lookup_failure_denies_with_a_reason(world: World) -> None:
    directory = Directory({"SONCALL": {"UCAROL"}})
    directory.down = True
    policy = ApproverPolicy(ApprovalSettings(approver_groups=("SONCALL",)), groups=directory)
    refusal = policy.check(a_request(world), "UCAROL", A, channel=VoteChannel.SLACK)
    assert refusal is not None and "could not be checked" in refusal.reason


def test_group_membership_is_cached_for_the_ttl_then_refreshed() -> None:
    clock = FakeClock()
    inner = Directory({"SONCALL": {"UCAROL"}})
    cached = CachedGroupDirectory(inner, ttl=timedelta(seconds=60), clock=clock)
    assert cached.group_members("SONCALL") == {"UCAROL"}
    inner.groups["SONCALL"] = {"UDAVE"}
    clock.advance(59)
    assert cached.group_members("SONCALL") == {"UCAROL"}
    clock.advance(1)
    assert cached.group_members("SONCALL") == {"UDAVE"}
    assert inner.lookups == 2


def test_cli_accepts_cli_names_and_approver_user_ids_but_not_group_members(world: World) -> None:
    settings = ApprovalSettings(approver_user_ids=("UALICE",), approver_groups=("SONCALL",), cli_approvers=("ops",))
    policy = ApproverPolicy(settings, groups=Directory({"SONCALL": {"UCAROL"}}))
    request = a_request(world)
    assert policy.check(request, "ops", A, channel=VoteChannel.CLI) is None
    assert policy.check(request, "UALICE", A, channel=VoteChannel.CLI) is None
    assert policy.check(request, "UCAROL", A, channel=VoteChannel.CLI) is not None
    assert policy.check(request, "ops", A, channel=VoteChannel.SLACK) is not None


def test_requester_may_reject_but_not_approve_their_own_request(world: World) -> None:
    policy = ApproverPolicy(ApprovalSettings(approver_user_ids=("UALICE",)))
    request = a_request(world, requested_by="UALICE")
    assert policy.check(request, "UALICE", A, channel=VoteChannel.SLACK) is not None
    assert policy.check(request, "UALICE", R, channel=VoteChannel.SLACK) is None


def test_two_approvers_from_the_configured_band() -> None:
    settings = ApprovalSettings(two_approver_min_risk=0.7)
    assert required_approvals(0.69, settings) == 1
    assert required_approvals(0.7, settings) == 2
