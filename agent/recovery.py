"""Recovery of interrupted runs, after a crash or a failover.

Each claimed or running execution is taken over with a new fencing token (so the replica that
held it can write no more), then judged by its recorded intents against the cluster:

- nothing took effect (claimed only, or crashed in the dry run): run again, up to
  `max_attempts` runs in all; such a run is no action for cooldowns and budgets;
- its writes took effect: verified (with the outcome the action recorded, else by the intents
  the cluster shows), recorded as done, never repeated;
- it cannot be told: failed and escalated, with each write's intent and the live object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from actions.base import Outcome, Verification
from actions.kube import Kube
from actions.registry import get_action
from agent.audit import AuditKind, AuditLog
from agent.failures import FailureReason, FailureReporter
from agent.fencing import judge_writes
from agent.intent import Effect
from agent.metrics import Metrics
from agent.outcomes import outcome_from
from agent.store import Execution, ExecutionState, Store
from risk.model import Proposal

log = structlog.get_logger(__name__)


class Abandoned(Exception):
    """Shutdown: a run stops where it is (between API calls) and is left, claimed, for recovery."""


@dataclass(frozen=True)
class RunHooks:
    """What recovery borrows from the executor: verify, finish, run again, rebuild a proposal."""

    verify: Callable[[Any, Proposal, Outcome], Verification]
    finish: Callable[..., None]
    submit: Callable[[Execution], None]
    proposal: Callable[[Execution], Proposal]
    on_verified: Callable[[str], None]


class Recovery:
    """Takes over and settles interrupted runs."""

    def __init__(
        self,
        *,
        store: Store,
        audit: AuditLog,
        kube: Kube,
        identity: str,
        failures: FailureReporter,
        metrics: Metrics,
        max_attempts: int,
        run: RunHooks,
    ) -> None:
        self._store = store
        self._audit = audit
        self._kube = kube
        self.identity = identity
        self._failures = failures
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._run = run

    def recover_all(self, *, skip: set[str], owner: str | None = None) -> list[str]:
        """Settle every unfinished run (only `owner`'s, when given) except those in `skip` (this
        process runs them); the ids taken over."""
        done = []
        for execution in self._store.executions.unfinished():
            if execution.id in skip or (owner is not None and execution.claimed_by != owner):
                continue
            bound = log.bind(execution=execution.id)
            try:
                if self.recover(execution, bound):
                    done.append(execution.id)
            except Abandoned:
                bound.warning("recovery_abandoned_at_shutdown")
                break
            except Exception:  # noqa: BLE001 - one run that cannot be judged must not stop the others
                bound.exception("recovery_failed")
                self._metrics.store_errors.inc()
        return done

    def recover(self, execution: Execution, bound: Any) -> bool:
        """Take over and settle one interrupted run; False when another replica took it first."""
        effect, states = (
            judge_writes(execution.intent, self._kube)
            if execution.state is ExecutionState.RUNNING
            else (Effect.NOT_APPLIED, [])
        )
        attempts = int((execution.intent or {}).get("attempts", 1))
        if effect is Effect.NOT_APPLIED and not execution.outcome and attempts < self._max_attempts:
            taken = self._store.executions.take_over(execution, self.identity, restart=True)
            if taken is not None:
                bound.info("execution_retried", attempt=attempts + 1)
                self._run.submit(taken)
            return taken is not None
        taken = self._store.executions.take_over(execution, self.identity)
        if taken is None:
            return False  # another replica took it over first
        if execution.outcome or effect is Effect.APPLIED:
            self._settle_applied(taken, states)
            return True
        reason = FailureReason.UNKNOWN_EFFECT if effect is Effect.UNKNOWN else FailureReason.INTERRUPTED
        error = "interrupted; " + (
            "its writes cannot be told from the cluster" if effect is Effect.UNKNOWN else "nothing of it took effect"
        )
        outcome = {**(taken.outcome or {}), "reconciled": True, "error": error}
        self._run.finish(taken, succeeded=False, outcome=outcome, effect=effect.value)
        self._failures.report(taken, reason=reason, error=error, details={"effect": effect.value, "states": states})
        return True

    def _settle_applied(self, execution: Execution, states: list[dict[str, Any]]) -> None:
        """An interrupted run whose writes took effect: verify it (with what the action recorded,
        else by the intents the cluster shows), record it and audit the execution."""
        proposal = self._run.proposal(execution)
        recorded = outcome_from(execution.outcome) if execution.outcome else None
        if recorded is not None:
            verification = self._run.verify(get_action(proposal.action), proposal, recorded)
        else:
            verification = Verification(ok=True, settled=True, detail="the cluster shows every intended write")
        checked = {"ok": verification.ok, "detail": verification.detail}
        note = "interrupted mid-action; judged from the cluster, not repeated"
        outcome = {**(execution.outcome or {"changed": True}), "reconciled": True, "note": note}
        payload = {"execution": execution.id, "action": execution.action, "recovered": True, "writes": len(states)}
        if not execution.outcome:  # the action never returned: its execution record was never written
            self._audit.append(
                AuditKind.EXECUTION, actor=self.identity, incident_id=execution.incident_id, payload=payload
            )
        self._audit.append(
            AuditKind.VERIFICATION,
            actor=self.identity,
            incident_id=execution.incident_id,
            payload={"execution": execution.id, "reconciled": True, **checked},
        )
        self._run.finish(
            execution, succeeded=verification.ok, outcome=outcome, verification=checked, effect=Effect.APPLIED.value
        )
        if not verification.ok:
            error = f"not verified after recovery: {verification.detail}"
            self._failures.report(execution, reason=FailureReason.NOT_VERIFIED, error=error, details={})
        elif execution.incident_id:
            self._run.on_verified(execution.incident_id)
