"""The owner steps around one execution: pause a GitOps owner before acting (`pause-then-act`),
and restore it when the execution is the Undo of the one that paused it.

Each step is audited (an `execution` record with `step`), and the pause is kept in the
execution's outcome, so the store and the owner object both say what Scutum changed.
"""

from __future__ import annotations

from typing import Any

import structlog

from actions.base import ActionContext
from actions.kube import KubeError
from actions.owner_pause import pause, paused_by, resume, resume_expired
from actions.owners import managed_by, owner_location
from actions.registry import get_action, parse_invocation
from agent.audit import AuditKind, AuditLog
from agent.outcomes import outcome_from
from agent.store import Execution, Store
from risk.model import Proposal

log = structlog.get_logger(__name__)


class OwnerSteps:
    """Runs the owner-pause step before an action and the owner restore after its Undo."""

    def __init__(self, *, context: ActionContext, store: Store, audit: AuditLog, identity: str) -> None:
        self._ctx = context
        self._store = store
        self._audit = audit
        self._identity = identity

    def _target(self, proposal: Proposal) -> dict[str, Any] | None:
        target = proposal.target
        return self._ctx.kube.try_get(target.kind, target.name, target.namespace)

    def before(self, execution: Execution, proposal: Proposal) -> dict[str, Any] | None:
        """Pause the target's owner when its policy is `pause-then-act`; the record, or None.
        Raises KubeError when the owner cannot be paused: then the action must not run."""
        if not get_action(proposal.action).owner_may_revert:
            return None
        target = self._target(proposal)
        if target is None:
            return None
        record = pause(self._ctx, target, execution_id=execution.id)
        if record is None:
            return None
        if not record.changed:  # already paused (by an earlier run or by hand): nothing written
            return record.as_json()
        payload = {"execution": execution.id, "step": "owner_pause", **record.as_json()}
        self._audit.append(
            AuditKind.EXECUTION, actor=self._identity, incident_id=execution.incident_id, payload=payload
        )
        log.info("owner_paused", execution=execution.id, owner=f"{record.kind} {record.namespace}/{record.name}")
        return record.as_json()

    def after_undo(self, execution: Execution, proposal: Proposal) -> str | None:
        """Restore the owner when this execution undoes the one that paused it; what was restored."""
        target = self._target(proposal)
        owner = managed_by(target)
        where = owner_location(owner, self._ctx.limits.owner_policies) if owner else None
        if where is None:
            return None
        kind, namespace, name = where
        pauser_id = paused_by(self._ctx.kube.try_get(kind, name, namespace))
        pauser = self._store.executions.get(pauser_id) if pauser_id else None
        if pauser is None or pauser.id == execution.id or not self._undoes(pauser, proposal):
            return None
        try:
            if not resume(self._ctx, kind, name, namespace):
                return None
        except KubeError as exc:  # the pause still ends at its stated time
            log.warning("owner_resume_failed", execution=execution.id, error=str(exc))
            return None
        restored = f"{kind} {namespace}/{name}"
        payload = {"execution": execution.id, "step": "owner_resume", "owner": restored, "paused_by": pauser.id}
        self._audit.append(
            AuditKind.EXECUTION, actor=self._identity, incident_id=execution.incident_id, payload=payload
        )
        log.info("owner_resumed", execution=execution.id, owner=restored)
        return restored

    @staticmethod
    def _undoes(pauser: Execution, proposal: Proposal) -> bool:
        """True when `proposal` is the inverse of what `pauser` ran (the Undo it offered)."""
        action, params = parse_invocation(pauser.action, pauser.params)
        inverse = action.inverse(params, outcome_from(pauser.outcome or {}))
        if inverse is None or inverse.action is not proposal.action:
            return False
        _, inverse_params = parse_invocation(inverse.action.value, inverse.params)
        return inverse_params == proposal.params


def resume_expired_owners(context: ActionContext, *, audit: AuditLog, identity: str) -> list[str]:
    """Lift every pause whose stated time has passed (a scheduled job of the leader); audited."""
    resumed = resume_expired(context)
    for owner in resumed:
        audit.append(
            AuditKind.EXECUTION, actor=identity, payload={"step": "owner_resume", "owner": owner, "expired": True}
        )
        log.info("owner_resumed", owner=owner, expired=True)
    return resumed
