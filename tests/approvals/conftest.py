"""Shared fixtures: a settable clock, an audit recorder, a request factory, the fake Slack."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from actions.base import ActionName, NamespacedParams, TargetRef
from approvals.authz import ApproverPolicy, GroupDirectory
from approvals.memory import InMemoryApprovalRepository
from approvals.model import ApprovalRepository, ApprovalRequest, ApprovalState
from approvals.queue import ApprovalNotifier, ApprovalQueue
from approvals.settings import ApprovalSettings, SlackSettings
from risk.model import Component, ComponentScore, Proposal, RiskScore
from tests.approvals.fake_slack import FakeSlack

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class AuditLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, details: dict[str, Any]) -> None:
        self.events.append((event, details))

    def names(self) -> list[str]:
        return [e for e, _ in self.events]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [d for e, d in self.events if e == event]


class RestartParams(NamespacedParams):
    """Stand-in params for restart_workload (the registry is another package's concern)."""


def risk(total: float) -> RiskScore:
    return RiskScore(
        total=total,
        components={
            Component.BLAST_RADIUS: ComponentScore(0.5, ("2 of 3 ready replicas restart at once",)),
            Component.REVERSIBILITY: ComponentScore(0.1, ("rolling restart needs no undo",)),
            Component.STATE_VALIDITY: ComponentScore(0.0, ()),
            Component.OPERATIONAL_PRESSURE: ComponentScore(0.3, ("1 other open incident in namespace shop",)),
        },
    )


def proposal(requested_by: str | None = None) -> Proposal:
    return Proposal(
        action=ActionName.RESTART_WORKLOAD,
        params=RestartParams(namespace="shop", name="cart"),
        target=TargetRef(kind="Deployment", name="cart", namespace="shop"),
        incident_started_at=T0 - timedelta(minutes=5),
        alert_names=("KubePodCrashLooping",),
        requested_by=requested_by,
    )


class World:
    """A queue over the in-memory repository whose on_approved 'runs' the action through the claim."""

    def __init__(
        self,
        settings: ApprovalSettings,
        clock: FakeClock,
        audit: AuditLog,
        *,
        groups: GroupDirectory | None = None,
        repo: ApprovalRepository | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.audit = audit
        self.repo: ApprovalRepository = repo or InMemoryApprovalRepository()
        self._runs: list[str] = []
        self.auto_execute = True
        """When False, tests drive the executor's claim by hand."""
        self._ids = iter(f"req{i}" for i in range(1, 1000))
        self._groups = groups
        self.queue = self.build_queue()

    def build_queue(self, notifier: ApprovalNotifier | None = None) -> ApprovalQueue:
        """The queue over this world's repository (built again to show requests somewhere)."""
        return ApprovalQueue(
            self.repo,
            self.settings,
            policy=ApproverPolicy(self.settings, groups=self._groups),
            audit=self.audit,
            notifier=notifier,
            new_id=lambda: next(self._ids),
        )

    @property
    def runs(self) -> list[str]:
        """What ran: the leader's dispatch picks approved requests up from the store (here, on
        each look) and claims each by moving it to EXECUTING, so each runs at most once."""
        if self.auto_execute:
            for request in self.repo.list(state=ApprovalState.APPROVED):
                self._execute(request)
        return list(self._runs)

    def _execute(self, request: ApprovalRequest) -> None:
        if self.queue.mark_executing(request.id, now=self.clock()):
            self._runs.append(request.id)
            self.queue.mark_succeeded(request.id, now=self.clock(), result="rollout complete", undo_available=False)

    def ask(self, total: float = 0.6, *, requested_by: str | None = None) -> ApprovalRequest:
        return self.queue.request(
            proposal(requested_by),
            risk(total),
            incident_id="inc-42",
            incident_summary="KubePodCrashLooping: cart in shop restarts 14 times in 10 minutes",
            threshold=0.5,
            now=self.clock(),
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog()


@pytest.fixture
def approval_settings() -> ApprovalSettings:
    return ApprovalSettings(
        approver_user_ids=("UALICE", "UBOB"),
        cli_approvers=("oncall-cli",),
        two_approver_min_risk=0.8,
        escalation_mention="<!subteam^SONCALL>",
    )


@pytest.fixture
def world(approval_settings: ApprovalSettings, clock: FakeClock, audit: AuditLog) -> World:
    return World(approval_settings, clock, audit)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def slack_settings(fake_slack: FakeSlack) -> SlackSettings:
    return SlackSettings(
        enabled=True,
        mode="http",
        bot_token="xoxb-test",
        signing_secret=SIGNING_SECRET,
        channel="CAPPROVALS",
        base_url=fake_slack.base_url,
        max_retries=3,
        retry_backoff_seconds=0.5,
    )


def sign(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Headers as Slack sends them: v0 HMAC-SHA256 over 'v0:{timestamp}:{body}'."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click_body(action_id: str, request_id: str, *, user: str, channel: str = "CAPPROVALS") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T1"},
        "api_app_id": "A1",
        "team": {"id": "T1", "domain": "example"},
        "channel": {"id": channel, "name": "approvals"},
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": channel},
        "trigger_id": "123.456.abc",
        "response_url": "https://hooks.invalid/actions/T1/1/x",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "scutum_decision",
                "value": request_id,
                "type": "button",
                "action_ts": "1772460000.000300",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()
