"""Who may approve: an explicit allowlist, denying by default.

Slack votes are allowed for listed user IDs and members of listed user groups (membership
resolved through the Web API, cached briefly). CLI votes are allowed for the configured CLI
names and for the listed Slack user IDs (so on-call can use the same identity in both places);
group membership is not consulted for the CLI, because the CLI must work when Slack is down.
Whoever is on call now (PagerDuty or Opsgenie schedules, when configured) may approve on Slack,
the CLI and Mattermost (not the console, whose identities are another name space); when the
schedule cannot be read, the static lists alone decide.
Mattermost votes are allowed for the users mapped in `mattermost_approvers`, counted under the
identity they map to.
Console votes are allowed for `console_approvers` only: the identity an authenticating proxy
sends (an e-mail address, a login) is a different name space from Slack user IDs.
Whoever requested an action (e.g. clicked Undo) may not approve it.
Everyone named in `people` may approve from each channel they have an identity on; every check
(requester, on-call, the lists) is made on the person `approvals.identity` resolves the vote to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, assert_never

from approvals.identity import IdentityMap, Voter
from approvals.model import ApprovalRequest, VoteChannel, VoteDecision
from approvals.oncall import OnCallDirectory, OnCallLookupFailed
from approvals.settings import ApprovalSettings


class GroupLookupFailed(Exception):
    """The user-group directory could not answer (Slack down, missing scope, unknown group)."""


class GroupDirectory(Protocol):
    """Resolves a Slack user group to its member user IDs (slack.py implements it)."""

    def group_members(self, group_id: str) -> frozenset[str]:
        """Member user IDs of the group; raises GroupLookupFailed when it cannot tell."""
        ...


class CachedGroupDirectory:
    """Remembers each group's members for `ttl`, measured on the injected clock."""

    def __init__(self, inner: GroupDirectory, *, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def group_members(self, group_id: str) -> frozenset[str]:
        """Cached members, refreshed from the inner directory once older than the TTL."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(group_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        members = self._inner.group_members(group_id)
        with self._lock:
            self._cache[group_id] = (now, members)
        return members


def required_approvals(risk_total: float, settings: ApprovalSettings) -> int:
    """Two different approvers at or above the two-approver band, otherwise one."""
    return 2 if risk_total >= settings.two_approver_min_risk else 1


@dataclass(frozen=True)
class Refusal:
    """Why a vote is not accepted; shown to the person who tried."""

    reason: str


class ApproverPolicy:
    """Decides whether one person may cast one vote on one request."""

    def __init__(
        self,
        settings: ApprovalSettings,
        *,
        groups: GroupDirectory | None = None,
        on_call: OnCallDirectory | None = None,
    ) -> None:
        self._settings = settings
        self._groups = groups
        self._on_call = on_call
        self._identities = IdentityMap(settings)

    @property
    def identities(self) -> IdentityMap:
        """The one resolver of channel identities to people (the queue counts votes with it)."""
        return self._identities

    def check(
        self, request: ApprovalRequest, approver: str, decision: VoteDecision, *, channel: VoteChannel
    ) -> Refusal | None:
        """None when the vote is allowed, else the reason it is refused (`approver` is the
        identity the channel vouched for)."""
        return self.check_voter(request, self._identities.resolve(channel, approver), decision)

    def check_voter(self, request: ApprovalRequest, voter: Voter, decision: VoteDecision) -> Refusal | None:
        """`check` for a vote already resolved to its person."""
        requester = request.requested_by
        own = requester is not None and voter.person == self._identities.person_of(requester)
        if decision is VoteDecision.APPROVE and own:
            return Refusal("you requested this action, so someone else must approve it")
        return self._authority(voter)

    def _authority(self, voter: Voter) -> Refusal | None:
        """Whether the person behind the vote may approve on this channel at all."""
        if voter.listed:
            return None
        channel = voter.channel
        if channel is not VoteChannel.CONSOLE and self._is_on_call(voter.person):
            return None  # the console's proxy logins are another name space than the rota's identities
        match channel:
            case VoteChannel.CLI:
                return self._check_cli(voter.identity)
            case VoteChannel.MATTERMOST:
                return Refusal("your Mattermost account is not on the approver list")
            case VoteChannel.SLACK:
                return self._check_slack(voter.identity)
            case VoteChannel.CONSOLE:
                return self._check_console(voter.identity)
            case _:
                assert_never(channel)

    def _is_on_call(self, person: str) -> bool:
        """On call now per the schedules; False (the static lists decide) when they cannot be read."""
        if self._on_call is None:
            return False
        try:
            on_call = self._on_call.on_call()
        except OnCallLookupFailed:
            return False
        return any(self._identities.person_of(identity) == person for identity in on_call)

    def may_operate(self, user: str) -> Refusal | None:
        """Whether a signed-in console user may approve, reject, pause and resume."""
        if self._identities.resolve(VoteChannel.CONSOLE, user).listed:
            return None
        return self._check_console(user)

    def _check_console(self, approver: str) -> Refusal | None:
        allowed = self._settings.console_approvers
        if not allowed:
            return Refusal("no console approvers are configured, so nobody may act from the console")
        if approver in allowed:
            return None
        return Refusal(f"{approver} is not on the console approver list")

    def may_vote(self, approver: str, *, channel: VoteChannel) -> Refusal | None:
        """Whether `approver` holds approving authority at all (Undo requires the same)."""
        if self._identities.resolve(channel, approver).listed:
            return None
        return self._check_cli(approver) if channel is VoteChannel.CLI else self._check_slack(approver)

    def _check_cli(self, approver: str) -> Refusal | None:
        allowed = set(self._settings.cli_approvers) | set(self._settings.approver_user_ids)
        if not allowed:
            return Refusal("no CLI approvers are configured, so nobody may approve from the CLI")
        if approver in allowed:
            return None
        return Refusal(f"{approver} is not on the approver list")

    def _check_slack(self, approver: str) -> Refusal | None:
        settings = self._settings
        if not settings.approver_user_ids and not settings.approver_groups:
            return Refusal("no approvers are configured, so nobody may approve")
        if approver in settings.approver_user_ids:
            return None
        lookup_failed = False
        for group in settings.approver_groups:
            if self._groups is None:
                lookup_failed = True
                continue
            try:
                if approver in self._groups.group_members(group):
                    return None
            except GroupLookupFailed:
                lookup_failed = True
        if lookup_failed:
            return Refusal("you are not on the approver list (approver group membership could not be checked)")
        return Refusal("you are not on the approver list")
