"""Every failed or refused run is visible: an `execution` audit record with its error, the
incident escalated (a terminal state), a notice to humans, and `scutum_actions_failed_total`."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import structlog

from agent.audit import AuditEntry, AuditKind, AuditLog
from agent.metrics import Metrics
from agent.store import Execution, IncidentStatus, Store

log = structlog.get_logger(__name__)


class FailureReason(StrEnum):
    """Why a run failed: the `reason` label of `scutum_actions_failed_total`."""

    REFUSED = "refused"
    """Re-validation, the kill switch or the approval stopped it before acting."""
    API_ERROR = "api_error"
    """The API server refused or failed the write, and it did not take effect."""
    UNKNOWN_EFFECT = "unknown_effect"
    """A write's answer was lost and the cluster shows neither the write nor the state before it."""
    NOT_VERIFIED = "not_verified"
    """The write took effect but the outcome was not the one wanted in time."""
    FENCED = "fenced"
    """This replica lost the Lease or its claim before writing; the new owner judges the run."""
    INTERRUPTED = "interrupted"
    """A crash or shutdown interrupted it; recovery judged it from the cluster."""
    CRASHED = "crashed"
    """An unexpected error in the agent."""


class FailureReporter:
    """Records, escalates and counts one failed run; never raises (a report must not break a worker)."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        metrics: Metrics,
        *,
        actor: str,
        notify: Callable[[Execution, str], None] = lambda execution, text: None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._metrics = metrics
        self._actor = actor
        self._notify = notify

    def report(self, execution: Execution, *, reason: FailureReason, error: str, details: dict[str, Any]) -> None:
        """Audit, escalate and count the failure of `execution`."""
        self._metrics.actions_failed.labels(action=execution.action, reason=reason.value).inc()
        log.warning("action_failed", execution=execution.id, action=execution.action, reason=reason, error=error)
        incident_id = execution.incident_id
        target = f"{execution.target_kind} {execution.target_namespace or ''}/{execution.target_name}"
        text = f"{execution.action} on {target} failed ({reason.value}): {error}"
        failed = {"execution": execution.id, "action": execution.action, "failed": True, "reason": reason.value}
        entries = [AuditEntry(AuditKind.EXECUTION, self._actor, failed | {"error": error, **details}, incident_id)]
        entries.append(
            AuditEntry(AuditKind.ESCALATION, self._actor, {"reason": text, "execution": execution.id}, incident_id)
        )
        try:
            self._audit.append_many(entries)
            stored = self._store.incidents.get(incident_id) if incident_id else None
            if stored is not None and stored.status in (IncidentStatus.OPEN, IncidentStatus.HANDLING):
                self._store.incidents.transition(stored.id, IncidentStatus.ESCALATED)
        except Exception:  # the store is down: the log line and the metric remain
            self._metrics.store_errors.inc()
            log.exception("failure_not_recorded", execution=execution.id)
        try:
            self._notify(execution, f"Escalated: {text}")
        except Exception:  # a notice that cannot be sent must not hide the failure
            log.exception("failure_notice_failed", execution=execution.id)
