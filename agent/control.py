"""The kill switch: pause stops every execution until someone resumes. Each change is kept
in the store and written to the audit chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.audit import AuditKind, AuditLog
from agent.store import ControlState, Store


@dataclass(frozen=True)
class Switched:
    """The kill switch after a pause or resume, and whether that call changed it."""

    state: ControlState
    changed: bool

    def message(self) -> str:
        """What to tell the person who flipped it (or tried to)."""
        state = self.state
        since = state.changed_at.isoformat(timespec="seconds") if state.changed_at else "unknown"
        if state.paused:
            verb = "paused" if self.changed else "already paused"
            return f"{verb} by {state.changed_by} since {since}: {state.reason}"
        return f"resumed by {state.changed_by}" if self.changed else "not paused: nothing to resume"


class KillSwitch:
    """Pause and resume the agent's actions, with who and why."""

    def __init__(self, store: Store, audit: AuditLog, *, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock or (lambda: datetime.now(UTC))

    def state(self) -> ControlState:
        """The current state."""
        return self._store.control.get()

    def is_paused(self) -> bool:
        """True while actions are stopped."""
        return self.state().paused

    def pause(self, *, reason: str, by: str) -> Switched:
        """Stop all actions; `reason` is required so the next person knows why. Pausing while
        paused changes nothing (who paused first, and why, stays on record)."""
        if not reason.strip():
            raise ValueError("a reason is required to pause")
        current = self.state()
        if current.paused:
            return Switched(current, changed=False)
        return Switched(self._set(paused=True, reason=reason, by=by), changed=True)

    def resume(self, *, by: str, reason: str = "") -> Switched:
        """Allow actions again (the agent then decides again what it held while paused)."""
        current = self.state()
        if not current.paused:
            return Switched(current, changed=False)
        return Switched(self._set(paused=False, reason=reason, by=by), changed=True)

    def _set(self, *, paused: bool, reason: str, by: str) -> ControlState:
        if not by.strip():
            raise ValueError("who is changing the kill switch must be named")
        state = self._store.control.set(paused=paused, reason=reason, changed_by=by, at=self._clock())
        self._audit.append(
            AuditKind.CONTROL, actor=by, payload={"action": "pause" if paused else "resume", "reason": reason}
        )
        return state
