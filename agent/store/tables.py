"""The store's tables. Nothing outside agent/store sees these classes: repositories return
plain records (agent.store.records).

Timestamps are stored timezone-aware (UTC); JSON columns hold plain data only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, false
from sqlmodel import Field, SQLModel


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _when(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class IncidentRow(SQLModel, table=True):
    """One incident: alerts grouped by fingerprint."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_started_at_id", "started_at", "id"),
        Index("ix_incidents_namespace_started_at", "namespace", "started_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(index=True, max_length=128)
    group_key: str = Field(default="", max_length=512)
    alert_name: str = Field(default="", max_length=256)
    namespace: str | None = Field(default=None, max_length=253)
    status: str = Field(index=True, max_length=32)
    started_at: datetime = _when()
    updated_at: datetime = _when()
    resolved_at: datetime | None = _when(nullable=True)
    alerts: list[dict[str, Any]] = _json()


class ProposalRow(SQLModel, table=True):
    """A typed action proposed for an incident."""

    __tablename__ = "proposals"
    __table_args__ = (Index("ix_proposals_action", "action", "incident_id"),)

    id: str = Field(primary_key=True, max_length=64)
    incident_id: str = Field(foreign_key="incidents.id", index=True, max_length=64)
    action: str = Field(max_length=64)
    params: dict[str, Any] = _json()
    target_kind: str = Field(max_length=64)
    target_namespace: str | None = Field(default=None, max_length=253)
    target_name: str = Field(max_length=253)
    claims: dict[str, Any] = _json()
    planner: str = Field(default="", max_length=64)
    created_at: datetime = _when()


class DecisionRow(SQLModel, table=True):
    """The policy's verdict on a proposal with the risk decomposition."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_verdict", "verdict", "proposal_id"),)

    id: str = Field(primary_key=True, max_length=64)
    proposal_id: str = Field(foreign_key="proposals.id", index=True, max_length=64)
    verdict: str = Field(max_length=32)
    risk_total: float
    components: dict[str, Any] = _json()
    rules: list[str] = _json()
    shadow: bool = False
    created_at: datetime = _when()


class ApprovalRequestRow(SQLModel, table=True):
    """A request for people to approve one action (approvals.model.ApprovalRequest)."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_approval_requests_state_created", "state", "created_at", "id"),
        Index("ix_approval_requests_created", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    incident_id: str = Field(index=True, max_length=64)
    incident_summary: str = Field(default="", max_length=2000)
    action: str = Field(max_length=64)
    params: dict[str, Any] = _json()
    target_kind: str = Field(max_length=64)
    target_name: str = Field(max_length=253)
    target_namespace: str | None = Field(default=None, max_length=253)
    risk: dict[str, Any] = _json()
    threshold: float
    required_approvals: int = 1
    requested_by: str | None = Field(default=None, max_length=256)
    state: str = Field(index=True, max_length=32)
    created_at: datetime = _when()
    deadline: datetime = _when(index=True)
    updated_at: datetime | None = _when(nullable=True)
    slack_channel: str | None = Field(default=None, max_length=64)
    slack_ts: str | None = Field(default=None, max_length=64)
    result: str | None = Field(default=None, max_length=4000)
    undo_available: bool = False


class ApprovalVoteRow(SQLModel, table=True):
    """One click or CLI command on an approval request (a person may vote more than once)."""

    __tablename__ = "approval_votes"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="approval_requests.id", index=True, max_length=64)
    approver: str = Field(max_length=256)
    decision: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    at: datetime = _when()


class ExecutionRow(SQLModel, table=True):
    """One run of an action; claimed by exactly one replica before anything happens."""

    __tablename__ = "executions"

    id: str = Field(primary_key=True, max_length=64)
    proposal_id: str | None = Field(default=None, index=True, max_length=64)
    incident_id: str | None = Field(default=None, index=True, max_length=64)
    approval_request_id: str | None = Field(default=None, index=True, max_length=64)
    action: str = Field(index=True, max_length=64)
    params: dict[str, Any] = _json()
    target_kind: str = Field(max_length=64)
    target_namespace: str | None = Field(default=None, index=True, max_length=253)
    target_name: str = Field(max_length=253)
    state: str = Field(index=True, max_length=32)
    claimed_by: str | None = Field(default=None, max_length=256)
    claimed_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(index=True)
    finished_at: datetime | None = _when(nullable=True)
    outcome: dict[str, Any] | None = _json(nullable=True)
    verification: dict[str, Any] | None = _json(nullable=True)
    fence: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """The fencing token: raised by every claim and take-over; a write needs the current one."""
    intent: dict[str, Any] | None = _json(nullable=True)
    """What the run's real writes intend (`agent.intent`), recorded before each is sent."""
    effect: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    """What the cluster shows of those writes when the run ended: applied, not_applied, unknown."""


class SnapshotRow(SQLModel, table=True):
    """One observed version of a watched object (never a Secret)."""

    __tablename__ = "object_snapshots"
    __table_args__ = (
        Index("ix_object_snapshots_object", "kind", "namespace", "name", "observed_at"),
        Index("ix_object_snapshots_superseded", "superseded", "observed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    namespace: str = Field(default="", max_length=253)
    name: str = Field(max_length=253)
    resource_version: str = Field(default="", max_length=64)
    content: dict[str, Any] = _json()
    observed_at: datetime = _when()
    superseded: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    """A newer version of the object was recorded: only superseded rows are ever pruned, so
    pruning reads the history, not every kept object."""


class ControlRow(SQLModel, table=True):
    """The kill switch: one row, id 1."""

    __tablename__ = "control_state"

    id: int = Field(default=1, primary_key=True)
    paused: bool = False
    reason: str = Field(default="", max_length=2000)
    changed_by: str = Field(default="", max_length=256)
    changed_at: datetime | None = _when(nullable=True)


class AuditRow(SQLModel, table=True):
    """One audit record; append-only (a trigger enforces it on PostgreSQL)."""

    __tablename__ = "audit_records"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: datetime = _when()
    kind: str = Field(index=True, max_length=64)
    actor: str = Field(max_length=256)
    incident_id: str | None = Field(default=None, index=True, max_length=64)
    payload: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class AuditHeadRow(SQLModel, table=True):
    """The chain's head (last seq and hash): the lock appends take, and the anchor that
    reveals records removed from the end."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="", max_length=64)


class ChannelMessageRow(SQLModel, table=True):
    """Where an approval request is shown on a channel other than Slack (e.g. a Mattermost post id),
    so a restarted agent updates the same message."""

    __tablename__ = "channel_messages"

    request_id: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    ref: str = Field(max_length=128)


class AutonomyGrantRow(SQLModel, table=True):
    """One change to a case's earned autonomy (`scutum policy promote | demote`); the newest
    row per (action, namespace, alert) is in force. Rows are never updated."""

    __tablename__ = "autonomy_grants"
    __table_args__ = (Index("ix_autonomy_grants_case", "action", "namespace", "alert_name", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=64)
    namespace: str = Field(default="", max_length=253)
    alert_name: str = Field(max_length=256)
    mode: str = Field(max_length=16)
    max_risk: float = 0.0
    changed_by: str = Field(max_length=256)
    reason: str = Field(default="", max_length=2000)
    evidence: list[str] = _json()
    changed_at: datetime = _when()


class ReplicaRow(SQLModel, table=True):
    """What each replica last reported: whether it led, and how its last poll went."""

    __tablename__ = "replicas"

    identity: str = Field(primary_key=True, max_length=256)
    leading: bool = False
    polled_at: datetime | None = _when(nullable=True)
    poll_ok: bool = False
    poll_detail: str = Field(default="", max_length=2000)
    updated_at: datetime = _when()
