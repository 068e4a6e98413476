"""Did the fix hold? After an action verified, watch its target for the owner reverting it.

An object Argo CD, Flux, Helm or an operator manages can be put back by its owner after Scutum
changed it (self-heal, a reconcile loop). For a window after each successful execution on a
managed target, the leader asks the action's own `verify` again; when the target no longer holds
what the action did, the run's outcome is `reverted-by-owner`: audited as a verification record
naming the owner (what calibration reads as a fix that did not hold), once per execution.

What has been reported is read back from those records, not kept in memory: a restart, or a new
leader, neither reports a run twice nor forgets to watch the ones not yet judged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from actions.base import ActionContext
from actions.kube import KubeError
from actions.owners import managed_by
from actions.registry import parse_invocation
from agent.audit import AuditKind, AuditLog
from agent.outcomes import outcome_from
from agent.store import Execution, ExecutionState, Store
from risk.track import Ending

log = structlog.get_logger(__name__)

REVERTED_BY_OWNER = Ending.REVERTED_BY_OWNER.value
"""The outcome of a run whose effect the target's owner undid within the watch window."""


@dataclass
class OwnerWatch:
    """Re-verifies recent successful runs on managed targets; records the ones their owner reverted."""

    context: ActionContext
    store: Store
    audit: AuditLog
    identity: str
    clock: Callable[[], datetime]
    window: timedelta = timedelta(minutes=10)
    """How long after a run its target is watched."""
    notify: Callable[[Execution, str], None] = lambda execution, text: None
    """How a human hears of it (the failure notice: Slack, the pager), once per run."""

    def check(self) -> list[str]:
        """One pass: the ids of the runs found reverted by their owner in it."""
        now = self.clock()
        candidates = [
            e for e in self.store.executions.recent(now - self.window - timedelta(hours=1)) if self._watched(e, now)
        ]
        if not candidates:
            return []
        reported = self.store.outcomes.reverted_by_owner({e.incident_id for e in candidates})
        return [e.id for e in candidates if e.id not in reported and self._reverted(e)]

    def _watched(self, execution: Execution, now: datetime) -> bool:
        finished = execution.finished_at
        return (
            execution.state is ExecutionState.SUCCEEDED
            and finished is not None
            and now - finished <= self.window
            and bool((execution.outcome or {}).get("changed"))
        )

    def _reverted(self, execution: Execution) -> bool:
        action, params = parse_invocation(execution.action, execution.params)
        if not action.owner_may_revert:
            return False
        kube = self.context.kube
        try:
            target = kube.try_get(execution.target_kind, execution.target_name, execution.target_namespace)
            owner = managed_by(target)
            if owner is None:
                return False
            verification = action.verify(self.context, params, outcome_from(execution.outcome or {}))
        except KubeError as exc:
            log.warning("owner_watch_read_failed", execution=execution.id, error=str(exc))
            return False
        if verification.ok or not verification.settled:
            return False
        record_reverted(self.audit, execution, actor=self.identity, owner=owner.describe(), detail=verification.detail)
        log.warning("reverted_by_owner", execution=execution.id, owner=owner.describe(), detail=verification.detail)
        where = f"{execution.target_kind} {execution.target_namespace or ''}/{execution.target_name}"
        text = (
            f"Escalated: {execution.action} on {where} did not hold: {owner.describe()} reverted it "
            f"({verification.detail}). Make the fix in the owner's source, or pause the owner."
        )
        try:
            self.notify(execution, text)
        except Exception:  # recorded already; a notice that cannot be sent must not stop the watch
            log.exception("reverted_notice_failed", execution=execution.id)
        return True


def record_reverted(audit: AuditLog, execution: Execution, *, actor: str, owner: str, detail: str) -> None:
    """The one record of a run its owner reverted: what the reports label `reverted-by-owner` and
    what the watch reads back as already reported."""
    payload = {"execution": execution.id, "outcome": REVERTED_BY_OWNER, "owner": owner, "detail": detail}
    audit.append(AuditKind.VERIFICATION, actor=actor, incident_id=execution.incident_id, payload=payload)
