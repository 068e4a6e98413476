"""The kill switch: pause stops every execution until someone resumes. Each change is kept
in the store and written to the audit chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from agent.audit import AuditKind, AuditLog
from agent.store import ControlState, Store


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

    def pause(self, *, reason: str, by: str) -> ControlState:
        """Stop all actions; `reason` is required so the next person knows why."""
        if not reason.strip():
            raise ValueError("a reason is required to pause")
        return self._set(paused=True, reason=reason, by=by)

    def resume(self, *, by: str, reason: str = "") -> ControlState:
        """Allow actions again."""
        return self._set(paused=False, reason=reason, by=by)

    def _set(self, *, paused: bool, reason: str, by: str) -> ControlState:
        if not by.strip():
            raise ValueError("who is changing the kill switch must be named")
        state = self._store.control.set(paused=paused, reason=reason, changed_by=by, at=self._clock())
        self._audit.append(
            AuditKind.CONTROL, actor=by, payload={"action": "pause" if paused else "resume", "reason": reason}
        )
        return state
