"""Plain records the store hands out; callers never see a table class or a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple


class IncidentStatus(StrEnum):
    """Where an incident is in its life (the moves between them: `INCIDENT_TRANSITIONS`)."""

    OPEN = "open"
    """Seen, not decided yet (or released to be decided again)."""
    HANDLING = "handling"
    """An action for it awaits approval or is under way."""
    VERIFIED = "verified"
    """Its action was verified to have taken effect."""
    RESOLVED = "resolved"
    """Its alerts resolved."""
    ESCALATED = "escalated"
    """Handed to humans: nothing fits, policy denied, or its action failed or was refused."""
    IGNORED = "ignored"
    JOINED = "joined"
    """Its target was already being fixed (or just fixed) for another incident."""
    HELD = "held"
    """Decided while the kill switch was on: decided again on resume if still firing."""


_I = IncidentStatus
INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    _I.OPEN: frozenset({_I.HANDLING, _I.ESCALATED, _I.IGNORED, _I.JOINED, _I.HELD, _I.RESOLVED}),
    _I.HANDLING: frozenset({_I.VERIFIED, _I.ESCALATED}),
    _I.VERIFIED: frozenset({_I.OPEN}),
    _I.RESOLVED: frozenset({_I.OPEN}),
    _I.ESCALATED: frozenset({_I.OPEN, _I.RESOLVED}),
    _I.IGNORED: frozenset({_I.OPEN, _I.RESOLVED}),
    _I.JOINED: frozenset({_I.OPEN, _I.RESOLVED}),
    _I.HELD: frozenset({_I.OPEN, _I.RESOLVED}),
}
"""The only moves an incident makes (`IncidentRepository.transition` enforces it). A HANDLING
incident leaves only through its action's end (verified, or escalated when it failed, was
refused, rejected or expired); its alerts resolving does not drop the action in hand."""

ACTIVE_INCIDENT_STATES = frozenset({IncidentStatus.OPEN, IncidentStatus.HANDLING})
"""Incidents the agent still has to decide or is acting on: what operational pressure counts."""

UNRESOLVED_INCIDENT_STATES = frozenset({_I.OPEN, _I.HANDLING, _I.ESCALATED, _I.IGNORED, _I.JOINED, _I.HELD})
"""Incidents whose alerts may still fire: rebuilt into memory at start and on winning leadership."""


class IllegalTransition(ValueError):
    """A state machine was asked for a move its table does not allow."""


class ExecutionState(StrEnum):
    """The claim life of one action run: pending until one replica claims it."""

    PENDING = "pending"
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"
    """Claimed, then stopped before acting (re-validation, kill switch): nothing was done."""


@dataclass(frozen=True)
class Incident:
    """Alerts that share a fingerprint, and what became of them."""

    id: str
    fingerprint: str
    status: IncidentStatus
    started_at: datetime
    updated_at: datetime
    group_key: str = ""
    alert_name: str = ""
    namespace: str | None = None
    resolved_at: datetime | None = None
    alerts: tuple[dict[str, Any], ...] = ()
    cluster: str = "default"
    """The cluster the incident happened in (docs/fleet.md)."""


@dataclass(frozen=True)
class ProposalRecord:
    """A stored proposal: action name, params as JSON data, target and the planner's claims."""

    id: str
    incident_id: str
    action: str
    params: dict[str, Any]
    target_kind: str
    target_name: str
    created_at: datetime
    target_namespace: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    planner: str = ""


@dataclass(frozen=True)
class DecisionRecord:
    """A stored verdict with the risk total, its decomposition and the rules that fired."""

    id: str
    proposal_id: str
    verdict: str
    risk_total: float
    components: dict[str, Any]
    rules: tuple[str, ...]
    created_at: datetime
    shadow: bool = False


@dataclass(frozen=True)
class Execution:
    """One run of an action and who claimed it."""

    id: str
    action: str
    params: dict[str, Any]
    target_kind: str
    target_name: str
    state: ExecutionState
    created_at: datetime
    target_namespace: str | None = None
    proposal_id: str | None = None
    incident_id: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    fence: int = 0
    """The fencing token of the current claim (see `ExecutionRepository.fenced_step`)."""
    intent: dict[str, Any] | None = None
    """The intents of the real writes sent so far: `{"writes": [...], "attempts": N}`."""
    effect: str | None = None
    """What the cluster showed of the writes when the run ended (`agent.intent.Effect`)."""
    approval_request_id: str | None = None
    """The approval request this run carries out (None: an automatic run)."""
    cluster: str = "default"
    """The cluster the run acts on; only that cluster's leader claims it."""


@dataclass(frozen=True)
class Snapshot:
    """One observed version of a watched object."""

    kind: str
    namespace: str
    name: str
    resource_version: str
    content: dict[str, Any]
    observed_at: datetime


@dataclass(frozen=True)
class ControlState:
    """The kill switch: when paused, nothing is executed."""

    paused: bool
    reason: str = ""
    changed_by: str = ""
    changed_at: datetime | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One link of the audit chain as stored."""

    seq: int
    ts: datetime
    kind: str
    actor: str
    incident_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class AuditLink(NamedTuple):
    """One record as verification reads it: a plain tuple, its time already in the hashed form
    (UTC, ISO 8601 with microseconds), so checking a long chain builds no objects per record."""

    seq: int
    ts: str
    kind: str
    actor: str
    incident_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditHead:
    """The last seq and hash of the chain (0 and "" when empty)."""

    seq: int
    hash: str
