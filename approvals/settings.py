"""Settings of the approvals layer; the agent's settings embed these two models."""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from approvals.model import VoteChannel


class OnCallSource(StrEnum):
    """Where the current on-call comes from."""

    NONE = "none"
    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"


class OnCallSettings(BaseModel):
    """Approvers that follow the rota: whoever is on call now may approve, besides the static lists."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    source: OnCallSource = OnCallSource.NONE
    """Read the on-call from PagerDuty or Opsgenie schedules (`none`: static lists only)."""
    api_key: SecretStr | None = None
    """A read-only REST API key of that service (from a Secret); not the Events routing key."""
    url: str = ""
    """The API base URL; empty: the service's public API."""
    schedule_ids: tuple[str, ...] = ()
    """The schedules whose current (level-1) on-call may approve."""
    identities: dict[str, str] = Field(default_factory=dict)
    """PagerDuty user ID or Opsgenie username → approver identity (Slack user ID or CLI name).
    An on-call person without an entry cannot approve."""
    cache_seconds: float = Field(default=60.0, ge=0.0, le=3600)
    """How long an answer is trusted before the schedule is read again. When it cannot be read,
    only the static approver lists apply."""


class PersonIdentities(BaseModel):
    """One person's identities on each approval channel; every one of them is that person."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    slack: tuple[str, ...] = ()
    """Slack user IDs (e.g. U012ABC)."""
    mattermost: tuple[str, ...] = ()
    """Mattermost user IDs (26 characters)."""
    console: tuple[str, ...] = ()
    """Console logins (the identity the authenticating proxy sends)."""
    cli: tuple[str, ...] = ()
    """Names given to `scutum approvals approve ID --as NAME`."""

    def on(self, channel: VoteChannel) -> tuple[str, ...]:
        """This person's identities on one channel."""
        match channel:
            case VoteChannel.SLACK:
                return self.slack
            case VoteChannel.MATTERMOST:
                return self.mattermost
            case VoteChannel.CONSOLE:
                return self.console
            case VoteChannel.CLI:
                return self.cli
            case _:
                assert_never(channel)


class ApprovalSettings(BaseModel):
    """Who may approve, how long a request waits, and when two approvers are needed."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    timeout_seconds: float = Field(default=900.0, gt=0, le=86400)
    """How long a request waits for a decision before it expires and escalates (default 15 minutes)."""
    two_approver_min_risk: float = Field(default=0.8, ge=0.0, le=1.0)
    """At or above this risk total, two different approvers must approve."""
    approver_user_ids: tuple[str, ...] = ()
    """Slack user IDs (e.g. U012ABC) allowed to approve. Empty together with the groups: nobody may."""
    approver_groups: tuple[str, ...] = ()
    """Slack user group IDs (e.g. S012ABC) whose members may approve, resolved via usergroups.users.list."""
    cli_approvers: tuple[str, ...] = ()
    """Names accepted by `scutum approvals approve ID --as NAME`, in addition to approver_user_ids."""
    mattermost_approvers: dict[str, str] = Field(default_factory=dict)
    """Mattermost user ID (26 characters) → that person's approver identity (their Slack user ID or
    CLI name). Only these users may vote from Mattermost, and their votes count under that identity,
    so one person is one approver on every channel."""
    console_approvers: tuple[str, ...] = ()
    """Signed-in console users (the identity the authenticating proxy sends) allowed to approve,
    reject, pause and resume from the web console."""
    escalation_mention: str | None = None
    """Who to mention when a request expires, in Slack syntax, e.g. "<!subteam^S012ABC>" for a group."""
    revalidation_margin: float = Field(default=0.15, ge=0.0, le=1.0)
    """Before executing, a re-scored risk more than this above the approved one asks again."""
    group_cache_seconds: float = Field(default=60.0, ge=0.0, le=3600)
    """How long a resolved user-group membership is trusted before asking Slack again."""
    oncall: OnCallSettings = Field(default_factory=OnCallSettings)
    """Approvers from the current on-call of PagerDuty or Opsgenie schedules."""
    people: dict[str, PersonIdentities] = Field(default_factory=dict)
    """Person name → their identities on each channel. Everyone listed may approve from every
    channel they have an identity on, and every vote counts under the person's name, so one
    person is one approver in the two-approver band whichever channels they use. The per-channel
    lists above keep working (each of their identities is a person of its own)."""

    def identity_owners(self) -> dict[tuple[VoteChannel, str], str]:
        """(channel, identity) → the person in `people` it belongs to; ValueError when one
        identity is listed for two people."""
        owners: dict[tuple[VoteChannel, str], str] = {}
        for person, ids in self.people.items():
            for channel in VoteChannel:
                for identity in ids.on(channel):
                    other = owners.setdefault((channel, identity), person)
                    if other != person:
                        raise ValueError(
                            f"approvals.people: {channel} identity {identity} belongs to {other} and {person}"
                        )
        return owners

    @model_validator(mode="after")
    def _one_person_per_identity(self) -> ApprovalSettings:
        owners = self.identity_owners()
        for mm_user in self.mattermost_approvers:
            if (VoteChannel.MATTERMOST, mm_user) in owners:
                raise ValueError(f"Mattermost user {mm_user} is in both approvals.people and mattermost_approvers")
        return self


class SlackMode(StrEnum):
    """How Slack reaches the agent."""

    SOCKET = "socket"
    """Socket Mode: the agent opens a WebSocket to Slack; no ingress needed (needs the app token)."""
    HTTP = "http"
    """Slack POSTs interactions to the agent's /slack/events (needs the signing secret and ingress)."""


class SlackSettings(BaseModel):
    """How the agent talks to Slack. Tokens are secrets and never logged."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Post approval requests to Slack; when off, only the CLI channel serves."""
    mode: SlackMode = SlackMode.SOCKET
    """Socket Mode (default, no ingress) or HTTP mode."""
    bot_token: SecretStr = SecretStr("")
    """Bot token (xoxb-...) used for the Web API."""
    app_token: SecretStr = SecretStr("")
    """App-level token (xapp-...) with connections:write, for Socket Mode."""
    signing_secret: SecretStr = SecretStr("")
    """Signing secret used to verify HTTP-mode requests."""
    channel: str = ""
    """Channel ID where approval requests are posted."""
    base_url: str = "https://slack.com/api/"
    """Web API base URL; tests point it at a local fake."""
    request_timestamp_window_seconds: int = Field(default=300, ge=1, le=3600)
    """HTTP mode: requests whose timestamp is further than this from now are rejected."""
    max_retries: int = Field(default=3, ge=0, le=10)
    """Retries of a Web API call on 5xx, rate limiting and connection errors."""
    retry_backoff_seconds: float = Field(default=0.5, ge=0.0, le=30.0)
    """First backoff interval on 5xx or connection errors; it doubles on each retry (with jitter)."""
    max_retry_after_seconds: float = Field(default=30.0, ge=0.0, le=300.0)
    """Longest wait honoured from a rate-limited answer's Retry-After header."""
    timeout_seconds: int = Field(default=10, ge=1, le=120)
    """Timeout of one Web API call."""


class MattermostSettings(BaseModel):
    """The Mattermost approval channel: interactive message buttons on a bot's posts."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Post approval requests to Mattermost and take votes from its buttons."""
    url: str = ""
    """The Mattermost server's base URL, e.g. `https://chat.example.com`."""
    bot_token: SecretStr = SecretStr("")
    """A bot account's access token (from a Secret)."""
    channel_id: str = ""
    """The ID (not the name) of the channel requests are posted to; the bot must be a member."""
    callback_url: str = ""
    """Where Mattermost's server reaches Scutum's `POST /mattermost/actions`, e.g.
    `http://scutum.scutum.svc:8080/mattermost/actions` (allow it in Mattermost's
    `ServiceSettings.AllowedUntrustedInternalConnections`)."""
    action_secret: SecretStr = SecretStr("")
    """Key of the per-request button tokens (HMAC-SHA256, from a Secret); at least 32 characters."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """HTTP timeout of one call to Mattermost."""

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> MattermostSettings:
        if not self.enabled:
            return self
        missing = [
            name
            for name, value in (
                ("url", self.url),
                ("bot_token", self.bot_token.get_secret_value()),
                ("channel_id", self.channel_id),
                ("callback_url", self.callback_url),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"mattermost.enabled needs {', '.join(missing)}")
        if len(self.action_secret.get_secret_value()) < 32:
            raise ValueError("mattermost.action_secret must be at least 32 characters (it signs the buttons)")
        return self
