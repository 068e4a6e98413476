"""Alerts become incidents: deduplicated by fingerprint, grouped by target, bounded in memory.

One incident per target (namespace + object label, e.g. the Deployment `prod/web`), or per
alert fingerprint when the labels name no object. An incident closes when all its alerts
resolve (a resolution in the webhook, or absence from a complete poll) or when the agent marks
its action verified. Open incidents are capped, closed ones are evicted oldest first, and each
incident keeps at most a bounded number of alerts, so an alert storm cannot grow memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from agent.cluster import DEFAULT_CLUSTER
from agent.intake.alerts import Alert, ParsedBatch, RejectedAlert, parse_gettable_alerts, parse_webhook
from agent.planning.targets import ObjectRef, target_from_labels


class IntakeLimits(BaseModel):
    """Bounds and ignore rules of the intake (part of the agent's settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    max_open_incidents: int = Field(default=1000, ge=1)
    """Open incidents kept at once; alerts for new targets beyond this are ignored and counted."""
    max_closed_incidents: int = Field(default=1000, ge=0)
    """Closed incidents remembered (for lookups by id); the oldest are evicted first."""
    max_alerts_per_incident: int = Field(default=50, ge=1)
    """Distinct alerts kept per incident; further ones for the same target are counted only."""
    heartbeat_alerts: frozenset[str] = frozenset({"Watchdog", "InfoInhibitor", "DeadMansSwitch"})
    """Alert names that only prove the pipeline works; never acted on."""
    ignored_severities: frozenset[str] = frozenset({"none", "info"})
    """Alerts with these `severity` labels are informational; never acted on."""
    settle_seconds: float = Field(default=600.0, ge=0)
    """After a verified fix, its alerts may keep firing this long (rule pending periods,
    scrape lag) without opening a new incident; still firing after that, they open one."""


class IncidentState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    RESOLVED = "resolved"
    """Every alert of the incident resolved (or left a complete poll)."""
    VERIFIED = "verified"
    """The agent's action was verified to have taken effect."""
    EVICTED = "evicted"
    """Decided with nothing left in hand (escalated, denied, ignored), and its slot was needed
    for a new target while the open-incident cap was reached."""


class IgnoreReason(StrEnum):
    HEARTBEAT = "heartbeat"
    INFORMATIONAL = "informational"
    RESOLVED = "resolved"
    SUPPRESSED = "suppressed"
    SETTLING = "settling"
    """The alert belongs to an incident whose fix was just verified; it should resolve soon."""
    CAPACITY = "capacity"
    """The open-incident cap was reached: the alert was counted, not kept."""


@dataclass(slots=True)
class Incident:
    """Alerts about one target, from first firing to resolution or a verified fix."""

    id: str
    group_key: str
    target: ObjectRef | None
    """The object the alert labels name, before the cluster was asked (None: no object label)."""
    started_at: datetime
    """When the earliest of its alerts started firing."""
    opened_at: datetime
    updated_at: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    """Its current alerts by fingerprint (bounded by `max_alerts_per_incident`)."""
    dropped_alerts: int = 0
    """Alerts for this target not kept because the per-incident bound was reached."""
    state: IncidentState = IncidentState.OPEN
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    decided: bool = False
    """True once its decision is committed to the store; until then every batch offers it
    again as new (a decision that failed, e.g. while the database was down, is retried)."""

    @property
    def alert_names(self) -> tuple[str, ...]:
        """The distinct alert names, in the order they arrived."""
        return tuple(dict.fromkeys(a.name for a in self.alerts.values()))

    @property
    def primary(self) -> Alert:
        """The alert the incident was opened for (the earliest still held)."""
        return next(iter(self.alerts.values()))


@dataclass(frozen=True, slots=True)
class IgnoredAlert:
    alert: Alert
    reason: IgnoreReason


@dataclass
class IntakeResult:
    """What one batch did; the caller plans `new`, records `ignored` and `rejected`."""

    new: list[Incident] = field(default_factory=list)
    updated: list[Incident] = field(default_factory=list)
    """Open incidents that gained an alert in this batch."""
    resolved: list[Incident] = field(default_factory=list)
    """Incidents this batch closed."""
    ignored: list[IgnoredAlert] = field(default_factory=list)
    rejected: list[RejectedAlert] = field(default_factory=list)


def group_key(alert: Alert) -> tuple[str, ObjectRef | None]:
    """The incident an alert belongs to: its target's key, else its own fingerprint."""
    target = target_from_labels(alert.labels)
    return (target.key(), target) if target else (f"alert/{alert.fingerprint}", None)


def incident_id(key: str, alert: Alert, *, cluster: str = DEFAULT_CLUSTER) -> str:
    """Deterministic, so replicas and restarts name the same incident alike; the cluster's name
    is part of it (the default cluster's ids are as they always were), so the same alert in two
    clusters of one store is two incidents."""
    seed = f"{key}|{alert.fingerprint}|{alert.starts_at.isoformat()}"
    if cluster != DEFAULT_CLUSTER:
        seed = f"{cluster}|{seed}"
    return "inc-" + hashlib.sha256(seed.encode()).hexdigest()[:16]


class Intake:
    """Turns batches of alerts into incidents. A lock keeps its maps consistent between the
    feeding thread and the executor's verification callback; memory is a cache of the store's
    incidents (`restore` rebuilds it)."""

    def __init__(self, limits: IntakeLimits | None = None, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self.limits = limits or IntakeLimits()
        self.cluster = cluster
        """The cluster whose alerts these are (part of every incident id)."""
        self._lock = threading.RLock()
        self._open: dict[str, Incident] = {}
        self._by_group: dict[str, str] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._closed: OrderedDict[str, Incident] = OrderedDict()
        self._settling: OrderedDict[str, datetime] = OrderedDict()
        self._parked: OrderedDict[str, None] = OrderedDict()
        """Open incidents decided with nothing in hand, oldest first: evicted before a new
        target is refused, so a flood cannot hold every slot (fair capacity)."""
        self.dropped_alerts = 0
        """Alerts counted but not kept (incident cap or per-incident bound)."""

    # --- queries ---------------------------------------------------------------------

    def get(self, incident_id: str) -> Incident | None:
        """An open or recently closed incident."""
        return self._open.get(incident_id) or self._closed.get(incident_id)

    def open_incidents(self) -> list[Incident]:
        return list(self._open.values())

    def sizes(self) -> dict[str, int]:
        """Sizes of the internal maps (for metrics and the storm test)."""
        return {
            "open": len(self._open),
            "closed": len(self._closed),
            "groups": len(self._by_group),
            "fingerprints": len(self._by_fingerprint),
            "settling": len(self._settling),
            "alerts": sum(len(i.alerts) for i in self._open.values()),
        }

    # --- feeding ---------------------------------------------------------------------

    def ingest_poll(self, payload: bytes | str | object, *, now: datetime) -> IntakeResult:
        """A complete `GET /api/v2/alerts` answer: alerts missing from it count as resolved."""
        return self.ingest_batch(parse_gettable_alerts(payload), now=now, complete=True)

    def ingest_webhook(self, payload: bytes | str | object, *, now: datetime) -> IntakeResult:
        """One webhook notification: only the alerts it carries change."""
        return self.ingest_batch(parse_webhook(payload), now=now)

    def ingest_batch(self, batch: ParsedBatch, *, now: datetime, complete: bool = False) -> IntakeResult:
        result = self.ingest(batch.alerts, now=now, complete=complete)
        result.rejected.extend(batch.rejected)
        return result

    def ingest(self, alerts: Iterable[Alert], *, now: datetime, complete: bool = False) -> IntakeResult:
        """Fold validated alerts into incidents.

        `complete=True` says the batch is everything Alertmanager holds (a poll): an open
        incident's alert absent from it has resolved.
        """
        with self._lock:
            return self._ingest(alerts, now=now, complete=complete)

    def undecided(self) -> list[Incident]:
        """Open incidents whose decision is not committed yet (it failed, e.g. while the
        database was down, or they were released to be decided again)."""
        with self._lock:
            return [incident for incident in self._open.values() if not incident.decided]

    def mark_decided(self, incident_id: str) -> None:
        """The incident's decision is committed: later batches only update it."""
        with self._lock:
            incident = self._open.get(incident_id)
            if incident is not None:
                incident.decided = True

    def release(self, incident_id: str) -> bool:
        """Offer an open incident to be decided again (its decision failed, or it was held while
        paused); False when it is not open here."""
        with self._lock:
            incident = self._open.get(incident_id)
            if incident is None:
                return False
            incident.decided = False
            return True

    def restore(self, incidents: Iterable[Incident]) -> list[Incident]:
        """Take back incidents the store holds open (at start, on winning leadership): their
        alerts then update them instead of opening duplicates. Returns the ones added."""
        added: list[Incident] = []
        with self._lock:
            for incident in incidents:
                if incident.id in self._open or len(self._open) >= self.limits.max_open_incidents:
                    continue
                if incident.group_key in self._by_group:
                    continue
                self._open[incident.id] = incident
                self._closed.pop(incident.id, None)
                self._by_group[incident.group_key] = incident.id
                for fingerprint in incident.alerts:
                    self._by_fingerprint.setdefault(fingerprint, incident.id)
                added.append(incident)
        return added

    def _ingest(self, alerts: Iterable[Alert], *, now: datetime, complete: bool) -> IntakeResult:
        result = IntakeResult()
        seen: set[str] = set()
        touched: set[str] = set()
        for alert in alerts:
            seen.add(alert.fingerprint)
            reason = self._ignore_reason(alert, now)
            if reason is not None:
                self._drop_inactive(alert, now, result)
                result.ignored.append(IgnoredAlert(alert, reason))
                continue
            self._fold(alert, now, result, touched)
        if complete:
            for fingerprint in [f for f in self._by_fingerprint if f not in seen]:
                self._remove_alert(fingerprint, now, result)
            for fingerprint in [f for f in self._settling if f not in seen]:
                del self._settling[fingerprint]
        return result

    def mark_verified(self, incident_id: str, *, now: datetime) -> Incident | None:
        """Close an incident because its fix was verified; None if it is not open."""
        with self._lock:
            return self._mark_verified(incident_id, now=now)

    def _mark_verified(self, incident_id: str, *, now: datetime) -> Incident | None:
        incident = self._open.get(incident_id)
        if incident is None:
            return None
        self._close(incident, CloseReason.VERIFIED, now)
        until = now + timedelta(seconds=self.limits.settle_seconds)
        bound = self.limits.max_open_incidents * self.limits.max_alerts_per_incident
        for fingerprint in incident.alerts:
            self._settling[fingerprint] = until
            self._settling.move_to_end(fingerprint)
        while len(self._settling) > bound:
            self._settling.popitem(last=False)
        return incident

    def park(self, incident_id: str) -> None:
        """Mark an open incident as decided with nothing in hand (its slot may be reclaimed)."""
        if incident_id in self._open:
            self._parked[incident_id] = None
            self._parked.move_to_end(incident_id)

    # --- internals -------------------------------------------------------------------

    def _make_room(self, now: datetime) -> bool:
        """Evict the oldest parked incident; False when every open incident is still in hand."""
        while self._parked:
            incident_id, _ = self._parked.popitem(last=False)
            incident = self._open.get(incident_id)
            if incident is not None:
                self._close(incident, CloseReason.EVICTED, now)
                return True
        return False

    def _ignore_reason(self, alert: Alert, now: datetime) -> IgnoreReason | None:
        if alert.name in self.limits.heartbeat_alerts:
            return IgnoreReason.HEARTBEAT
        if alert.labels.get("severity", "").lower() in self.limits.ignored_severities:
            return IgnoreReason.INFORMATIONAL
        if alert.suppressed:
            return IgnoreReason.SUPPRESSED
        if not alert.is_active(now):
            self._settling.pop(alert.fingerprint, None)
            return IgnoreReason.RESOLVED
        until = self._settling.get(alert.fingerprint)
        if until is not None:
            if now < until:
                return IgnoreReason.SETTLING
            del self._settling[alert.fingerprint]
        return None

    def _fold(self, alert: Alert, now: datetime, result: IntakeResult, touched: set[str]) -> None:
        known = self._by_fingerprint.get(alert.fingerprint)
        if known is not None:
            incident = self._open[known]
            incident.alerts[alert.fingerprint] = alert
            incident.updated_at = now
            return
        key, target = group_key(alert)
        incident_key = self._by_group.get(key)
        if incident_key is None:
            if len(self._open) >= self.limits.max_open_incidents and not self._make_room(now):
                self.dropped_alerts += 1
                result.ignored.append(IgnoredAlert(alert, IgnoreReason.CAPACITY))
                return
            incident = Incident(incident_id(key, alert, cluster=self.cluster), key, target, alert.starts_at, now, now)
            self._open[incident.id] = incident
            self._by_group[key] = incident.id
            result.new.append(incident)
            touched.add(incident.id)
        else:
            incident = self._open[incident_key]
            if len(incident.alerts) >= self.limits.max_alerts_per_incident:
                incident.dropped_alerts += 1
                self.dropped_alerts += 1
                return
            if incident.id not in touched:
                touched.add(incident.id)
                result.updated.append(incident)
        incident.alerts[alert.fingerprint] = alert
        incident.started_at = min(incident.started_at, alert.starts_at)
        incident.updated_at = now
        self._by_fingerprint[alert.fingerprint] = incident.id

    def _drop_inactive(self, alert: Alert, now: datetime, result: IntakeResult) -> None:
        if alert.fingerprint in self._by_fingerprint:
            self._remove_alert(alert.fingerprint, now, result)

    def _remove_alert(self, fingerprint: str, now: datetime, result: IntakeResult) -> None:
        incident_key = self._by_fingerprint.pop(fingerprint)
        incident = self._open[incident_key]
        incident.alerts.pop(fingerprint, None)
        incident.updated_at = now
        if not incident.alerts:
            self._close(incident, CloseReason.RESOLVED, now)
            result.resolved.append(incident)

    def _close(self, incident: Incident, reason: CloseReason, now: datetime) -> None:
        del self._open[incident.id]
        self._parked.pop(incident.id, None)
        self._by_group.pop(incident.group_key, None)
        for fingerprint in incident.alerts:
            self._by_fingerprint.pop(fingerprint, None)
        incident.state = IncidentState.CLOSED
        incident.closed_at = now
        incident.close_reason = reason
        if self.limits.max_closed_incidents == 0:
            return
        self._closed[incident.id] = incident
        while len(self._closed) > self.limits.max_closed_incidents:
            self._closed.popitem(last=False)
