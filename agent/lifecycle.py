"""The incident lifecycle over the store: the one place an incident's stored status changes
after its decision (verified, settled, resolved, held and resumed), and where the in-memory
intake is rebuilt from the store.

Each move goes through `IncidentRepository.transition`, which enforces
`INCIDENT_TRANSITIONS` in one transaction; memory (the intake) follows the store, never the
other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from agent.intake import Alert, Incident, Intake
from agent.intake.alerts import AlertSource
from agent.intake.incidents import group_key
from agent.store import IllegalTransition, IncidentStatus, Store
from agent.store import Incident as StoredIncident

log = structlog.get_logger(__name__)

S = IncidentStatus
QUIETLY_RESOLVED = frozenset({S.OPEN, S.ESCALATED, S.IGNORED, S.JOINED, S.HELD})
"""Statuses an incident leaves for RESOLVED when its alerts do (it needed nothing from us)."""


class IncidentLifecycle:
    """Moves stored incidents through their state machine and keeps the intake in step."""

    def __init__(self, store: Store, intake: Intake, *, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._intake = intake
        self._clock = clock

    def verified(self, incident_id: str) -> None:
        """Its action was verified: HANDLING → VERIFIED in the store, and closed in memory.
        (Not HANDLING yet: the pipeline marks it just after starting the action; `settle`
        finishes the move then.)"""
        try:
            self._store.incidents.transition(incident_id, S.VERIFIED, allowed_from=frozenset({S.HANDLING}))
        except IllegalTransition as exc:
            log.info("incident_verified_later", incident=incident_id, reason=str(exc))
        except KeyError:
            log.warning("incident_verified_unknown", incident=incident_id)
        self._intake.mark_verified(incident_id, now=self._clock())

    def settle(self, incident_id: str) -> IncidentStatus | None:
        """Move a HANDLING incident on when nothing is in hand any more: VERIFIED when its last
        action succeeded, ESCALATED otherwise. Returns its status (None: unknown id)."""
        stored = self._store.incidents.get(incident_id)
        if stored is None or stored.status is not S.HANDLING:
            return stored.status if stored else None
        target = self._store.work.of(incident_id).settled_status()
        if target is None:
            return S.HANDLING
        moved = self._store.incidents.transition(incident_id, target, allowed_from=frozenset({S.HANDLING}))
        if moved.status is S.VERIFIED:
            self._intake.mark_verified(incident_id, now=self._clock())
        log.info("incident_settled", incident=incident_id, status=moved.status.value)
        return moved.status

    def settle_all(self) -> dict[str, IncidentStatus]:
        """`settle` every HANDLING incident (the leader's periodic job); returns the ones moved."""
        moved: dict[str, IncidentStatus] = {}
        for stored in self._store.incidents.in_status(S.HANDLING):
            status = self.settle(stored.id)
            if status is not None and status is not S.HANDLING:
                moved[stored.id] = status
        return moved

    def alerts_resolved(self, incident_id: str) -> IncidentStatus | None:
        """Its alerts resolved: an incident that needed nothing from us is RESOLVED; one with an
        action in hand (or verified) keeps its status. Returns the stored status."""
        stored = self._store.incidents.get(incident_id)
        if stored is None:
            return None
        if stored.status in QUIETLY_RESOLVED:
            return self._store.incidents.transition(incident_id, S.RESOLVED).status
        return stored.status

    def rebuild(self) -> int:
        """Take the store's unresolved incidents back into memory (at start, on winning
        leadership): their alerts then join them instead of opening duplicates. Returns how many
        were added; OPEN ones come back undecided, so they are decided on the next batch."""
        limit = self._intake.limits.max_open_incidents
        restored = [incident_from_record(r) for r in self._store.incidents.unresolved(limit=limit)]
        added = self._intake.restore(i for i in restored if i is not None)
        if added:
            log.info("incidents_restored", count=len(added))
        return len(added)

    def resume_held(self) -> list[str]:
        """After a resume: every HELD incident is opened again and offered for a new decision
        (if its alerts still fire, the next batch decides it). Returns their ids."""
        if self._store.control.get().paused:
            return []
        released = []
        for stored in self._store.incidents.in_status(S.HELD):
            reopened = self._store.incidents.transition(stored.id, S.OPEN, allowed_from=frozenset({S.HELD}))
            if not self._intake.release(reopened.id):
                restored = incident_from_record(reopened)
                if restored is not None:
                    self._intake.restore([restored])
            released.append(reopened.id)
        if released:
            log.info("held_incidents_released", count=len(released))
        return released


def alert_from_json(data: Mapping[str, Any]) -> Alert:
    """An alert as the store keeps it (`agent.pipeline.alert_json`) back as an `Alert`."""
    return Alert(
        fingerprint=str(data["fingerprint"]),
        name=str(data.get("name", "")),
        labels={str(k): str(v) for k, v in dict(data.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in dict(data.get("annotations") or {}).items()},
        starts_at=datetime.fromisoformat(str(data["starts_at"])),
        ends_at=None,
        firing=bool(data.get("firing", True)),
        suppressed=False,
        source=AlertSource(str(data.get("source", AlertSource.POLL.value))),
    )


def incident_from_record(record: StoredIncident) -> Incident | None:
    """A stored incident as the intake holds it (None when it kept no alerts)."""
    alerts = [alert_from_json(a) for a in record.alerts if a.get("fingerprint")]
    if not alerts:
        return None
    key, target = group_key(alerts[0])
    incident = Incident(
        id=record.id,
        group_key=record.group_key or key,
        target=target,
        started_at=record.started_at,
        opened_at=record.started_at,
        updated_at=record.updated_at,
        alerts={a.fingerprint: a for a in alerts},
    )
    incident.decided = record.status is not S.OPEN
    return incident
