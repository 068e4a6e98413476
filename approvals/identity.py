"""One person, one approver: every vote's channel identity resolved to the person behind it.

`approvals.people` names each person's Slack, Mattermost, console and CLI identities. Votes are
counted, and checked against the requester, under the person; the audit keeps both the person and
the identity the channel vouched for. Identities outside `people` keep their older meaning: a
Mattermost user counts under the identity `mattermost_approvers` maps them to, a Slack user ID
given to the CLI is that Slack user, and anything else is a person of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.model import VoteChannel
from approvals.settings import ApprovalSettings

UNMAPPED_MATTERMOST_PREFIX = "mattermost:"
"""A Mattermost user nobody mapped counts under this prefix, so it cannot pass for a Slack or CLI identity."""


@dataclass(frozen=True)
class Voter:
    """Who cast a vote: the person, and the identity a channel vouched for."""

    person: str
    """The approver the two-approver band counts (the same person on two channels is one)."""
    identity: str
    """The identity as the channel gave it (Slack user ID, Mattermost user ID, console login, CLI name)."""
    channel: VoteChannel
    """Where the vote came from."""
    listed: bool
    """Named in `approvals.people` (or mapped by `mattermost_approvers`): an approver on this channel."""


class IdentityMap:
    """Resolves (channel, identity) to a person, the same way for every channel."""

    def __init__(self, settings: ApprovalSettings) -> None:
        self._people = frozenset(settings.people)
        self._owner = settings.identity_owners()
        self._mattermost_legacy = dict(settings.mattermost_approvers)

    def resolve(self, channel: VoteChannel, identity: str) -> Voter:
        """The person behind `identity` on `channel`."""
        person = self._owner.get((channel, identity))
        if person is not None:
            return Voter(person, identity, channel, listed=True)
        if channel is VoteChannel.MATTERMOST:
            mapped = self._mattermost_legacy.get(identity)
            if mapped is None:
                return Voter(UNMAPPED_MATTERMOST_PREFIX + identity, identity, channel, listed=False)
            return Voter(self.person_of(mapped), identity, channel, listed=True)
        if channel is VoteChannel.CLI:
            # The CLI accepts Slack user IDs, so on-call can use one identity in both places.
            person = self._owner.get((VoteChannel.SLACK, identity))
            if person is not None:
                return Voter(person, identity, channel, listed=True)
        return Voter(identity, identity, channel, listed=False)

    def person_of(self, identity: str) -> str:
        """The person behind an identity whose channel is not known (a requester, an on-call
        identity, a `mattermost_approvers` target): a person's name, or a Slack or CLI identity."""
        if identity in self._people:
            return identity
        for channel in (VoteChannel.SLACK, VoteChannel.CLI):
            person = self._owner.get((channel, identity))
            if person is not None:
                return person
        return identity
