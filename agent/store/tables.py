"""The store's tables. Nothing outside agent/store sees these classes: repositories return
plain records (agent.store.records).

Timestamps are stored timezone-aware (UTC); JSON columns hold plain data only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from agent.cluster import DEFAULT_CLUSTER


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _cluster(*, primary_key: bool = False, index: bool = True) -> Any:
    """The cluster a row belongs to (see docs/fleet.md); rows of older stores are the default's."""
    return Field(
        default=DEFAULT_CLUSTER,
        sa_column=Column(
            String(63),
            nullable=False,
            server_default=DEFAULT_CLUSTER,
            primary_key=primary_key,
            index=index and not primary_key,
        ),
    )


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
    cluster: str = _cluster()
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
    cluster: str = _cluster()
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
    cluster: str = _cluster()
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
    cluster: str = _cluster()
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
    cluster: str = _cluster()
    request_id: str = Field(foreign_key="approval_requests.id", index=True, max_length=64)
    approver: str = Field(max_length=256)
    decision: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    at: datetime = _when()


class ExecutionRow(SQLModel, table=True):
    """One run of an action; claimed by exactly one replica before anything happens."""

    __tablename__ = "executions"

    id: str = Field(primary_key=True, max_length=64)
    cluster: str = _cluster()
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
        Index("ix_object_snapshots_object", "cluster", "kind", "namespace", "name", "observed_at"),
        Index("ix_object_snapshots_superseded", "superseded", "observed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cluster: str = _cluster()
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
    """The kill switch: one row per cluster (pausing one cluster pauses no other)."""

    __tablename__ = "control_state"

    cluster: str = _cluster(primary_key=True)
    paused: bool = False
    reason: str = Field(default="", max_length=2000)
    changed_by: str = Field(default="", max_length=256)
    changed_at: datetime | None = _when(nullable=True)


class AuditRow(SQLModel, table=True):
    """One audit record; append-only (a trigger enforces it on PostgreSQL)."""

    __tablename__ = "audit_records"
    __table_args__ = (UniqueConstraint("cluster", "hash", name="uq_audit_records_cluster_hash"),)

    cluster: str = _cluster(primary_key=True)
    """Each cluster has its own chain: seq counts within it."""
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: datetime = _when()
    kind: str = Field(index=True, max_length=64)
    actor: str = Field(max_length=256)
    incident_id: str | None = Field(default=None, index=True, max_length=64)
    payload: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """A chain's head (last seq and hash), one row per cluster: the lock appends take, and the
    anchor that reveals records removed from the end."""

    __tablename__ = "audit_head"

    cluster: str = _cluster(primary_key=True)
    seq: int = 0
    hash: str = Field(default="", max_length=64)


class ChannelMessageRow(SQLModel, table=True):
    """Where an approval request is shown on a channel other than Slack (e.g. a Mattermost post id),
    so a restarted agent updates the same message. Keyed by the request's id, unique across the
    fleet, so it needs no cluster of its own."""

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
    cluster: str = _cluster()
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

    cluster: str = _cluster(primary_key=True)
    """Replicas are named within their cluster: two clusters may both run `scutum-0`."""
    identity: str = Field(primary_key=True, max_length=256)
    leading: bool = False
    polled_at: datetime | None = _when(nullable=True)
    poll_ok: bool = False
    poll_detail: str = Field(default="", max_length=2000)
    updated_at: datetime = _when()


class RelayedVoteRow(SQLModel, table=True):
    """A vote one cluster's agent received (a shared Slack app or Mattermost team) for a request
    another cluster owns: kept here until the owner's agent takes it and votes it through its own
    authorisation, expiry and audit. The receiving agent never touches the request itself."""

    __tablename__ = "relayed_votes"

    id: int | None = Field(default=None, primary_key=True)
    cluster: str = _cluster()
    """The cluster that owns the request (and so takes the vote)."""
    request_id: str = Field(max_length=64)
    approver: str = Field(max_length=256)
    decision: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    received_by: str = Field(max_length=63)
    """The cluster whose agent received the vote."""
    at: datetime = _when()
