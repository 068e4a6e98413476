"""The executor: claim → re-probe and re-score → act (server-side dry run first) → verify.

Every mutation is claimed in the store before it happens and marked after it, so an action
runs once even when two replicas both believe they lead, and a restart reconciles a claimed
action from the cluster's state instead of repeating it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from actions.base import ActionContext, ActionRefused, Outcome, Verification
from actions.kube import KubeError
from actions.registry import get_action, parse_invocation
from agent.audit import AuditKind, AuditLog
from agent.evaluate import Evaluator
from agent.intake import Incident
from agent.metrics import Metrics
from agent.outcomes import invocation_json, outcome_from, outcome_json
from agent.owner_steps import OwnerSteps
from agent.store import Execution, ExecutionState, Store
from approvals.model import ApprovalRequest
from approvals.queue import ApprovalQueue, needs_reapproval
from risk.assess import precondition_refusal
from risk.model import Proposal, Verdict

log = structlog.get_logger(__name__)

ACTOR = "scutum"


@dataclass(frozen=True)
class ExecutorSettings:
    verify_timeout_seconds: float = 120.0
    """How long to wait for an action to take effect before calling it failed."""
    verify_interval_seconds: float = 1.0
    """Pause between verification checks."""
    revalidation_margin: float = 0.1
    """An approved action is asked again when its risk rose by more than this."""
    workers: int = 4
    """Actions run in parallel on this many threads (never blocking intake)."""


@dataclass
class _Pending:
    proposal: Proposal
    incident: Incident | None
    proposal_id: str | None
    approval_id: str | None = None
    approved_risk: float | None = None
    """The risk total the approver saw (re-validation compares against it)."""
    incident_id: str | None = None
    """The incident's id when the incident itself is not in memory (after a restart)."""


class Executor:
    """Runs claimed actions on worker threads and records everything they do."""

    def __init__(
        self,
        *,
        store: Store,
        audit: AuditLog,
        evaluator: Evaluator,
        context: ActionContext,
        approvals: ApprovalQueue,
        metrics: Metrics,
        clock: Callable[[], datetime],
        identity: str,
        is_leader: Callable[[], bool] = lambda: True,
        is_paused: Callable[[], bool] = lambda: False,
        on_verified: Callable[[str], None] = lambda incident_id: None,
        settings: ExecutorSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._audit = audit
        self._evaluator = evaluator
        self._ctx = context
        self._approvals = approvals
        self._metrics = metrics
        self._clock = clock
        self.identity = identity
        self._is_leader = is_leader
        self._is_paused = is_paused
        self._on_verified = on_verified
        self._settings = settings or ExecutorSettings()
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=self._settings.workers, thread_name_prefix="executor")
        self._pending: dict[str, _Pending] = {}
        self._dispatched: set[str] = set()
        """Approval requests this process has turned into executions."""
        self._in_flight: set[str] = set()
        """Executions submitted to this process's workers and not finished yet."""
        self._lock = threading.Lock()
        self.futures: list[Future[None]] = []

    # --- submission --------------------------------------------------------------------

    def submit_new(self, proposal: Proposal, incident: Incident | None, *, proposal_id: str | None) -> str:
        """Record a pending execution for an auto-approved proposal and start it."""
        execution = self._store.executions.create(
            action=proposal.action.value,
            params=proposal.params.model_dump(mode="json"),
            target_kind=proposal.target.kind,
            target_name=proposal.target.name,
            target_namespace=proposal.target.namespace,
            proposal_id=proposal_id,
            incident_id=incident.id if incident else None,
        )
        self._pending[execution.id] = _Pending(proposal, incident, proposal_id)
        self._submit(execution.id)
        return execution.id

    def remember(self, approval_id: str, proposal: Proposal, incident: Incident | None, *, proposal_id: str) -> None:
        """Keep what an approval request is about, so its approval can run it."""
        self._pending[approval_id] = _Pending(proposal, incident, proposal_id, approval_id)

    def on_approved(self, request: ApprovalRequest) -> None:
        """The approval queue's callback (and the leader's dispatch of requests approved
        elsewhere): an approved request becomes an execution, once per process. A standby leaves
        it to the leader, whose dispatch job finds it in the store."""
        if not self._is_leader():
            return
        with self._lock:
            if request.id in self._dispatched:
                return
            self._dispatched.add(request.id)
        pending = self._pending.pop(request.id, None)
        if pending is None:
            action, params = parse_invocation(request.action.value, request.params)
            target = action.target(params)
            pending = _Pending(
                Proposal(request.action, params, target, request.created_at, requested_by=request.requested_by),
                None,
                None,
                request.id,
                incident_id=request.incident_id,
            )
        pending.approval_id = request.id
        pending.approved_risk = request.risk_total
        execution = self._store.executions.create(
            action=pending.proposal.action.value,
            params=pending.proposal.params.model_dump(mode="json"),
            target_kind=pending.proposal.target.kind,
            target_name=pending.proposal.target.name,
            target_namespace=pending.proposal.target.namespace,
            proposal_id=pending.proposal_id,
            incident_id=pending.incident.id if pending.incident else pending.incident_id,
        )
        self._pending[execution.id] = pending
        self._submit(execution.id)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every submitted action to finish (tests, the demo, shutdown)."""
        for future in list(self.futures):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    # --- one run -----------------------------------------------------------------------

    def run(self, execution_id: str) -> None:
        """Claim, re-validate, act and verify one execution. Never raises."""
        bound = log.bind(execution=execution_id)
        try:
            self._run(execution_id, bound)
        except Exception as exc:  # noqa: BLE001 - task boundary: record and keep the pool alive
            bound.exception("execution_crashed")
            self._audit.append(AuditKind.ERROR, actor=ACTOR, payload={"execution": execution_id, "error": repr(exc)})

    def _run(self, execution_id: str, bound: Any) -> None:
        if not self._is_leader():
            bound.info("execution_left_to_leader")
            return
        if not self._store.executions.claim_execution(execution_id, self.identity):
            bound.info("execution_claimed_elsewhere")
            return
        pending = self._pending.pop(execution_id, None)
        execution = self._store.executions.get(execution_id)
        assert execution is not None  # we just claimed it
        proposal = pending.proposal if pending else self._proposal_from(execution)
        approval_id = pending.approval_id if pending else None
        if approval_id and not self._approvals.mark_executing(approval_id, now=self._clock()):
            self._finish(execution, succeeded=False, outcome={"refused": "approval no longer approved"}, refused=True)
            return
        refusal = self._revalidate(proposal, pending, approval_id, claimed_at=execution.claimed_at)
        if refusal is not None:
            self._finish(
                execution, succeeded=False, outcome={"refused": refusal}, approval_id=approval_id, refused=True
            )
            return
        self._store.executions.mark_running(execution_id, self.identity)
        self._act(execution, proposal, approval_id, bound)

    def _act(self, execution: Execution, proposal: Proposal, approval_id: str | None, bound: Any) -> None:
        """Dry run and write (inside the action), record what it did, verify, offer the undo."""
        action = get_action(proposal.action)
        incident_id = execution.incident_id
        steps = OwnerSteps(context=self._ctx, store=self._store, audit=self._audit, identity=self.identity)
        try:
            paused = steps.before(execution, proposal)  # pause-then-act: the owner first
            outcome = action.execute(self._ctx, proposal.params)
        except (ActionRefused, KubeError) as exc:
            bound.warning("action_failed", error=str(exc))
            self._metrics.actions.labels(action=proposal.action.value, outcome="failed").inc()
            self._finish(execution, succeeded=False, outcome={"error": str(exc)}, approval_id=approval_id)
            return
        did = outcome_json(outcome) | ({"owner_pause": paused} if paused else {})
        self._store.executions.record_outcome(execution.id, self.identity, did)
        steps.after_undo(execution, proposal)  # the Undo of a paused run gives the owner its sync back
        inverse = action.inverse(proposal.params, outcome)
        self._audit.append(
            AuditKind.EXECUTION,
            actor=self.identity,
            incident_id=incident_id,
            payload={"execution": execution.id, "action": proposal.action.value, **did},
        )
        verification = self._verify(action, proposal, outcome)
        checked = {"ok": verification.ok, "detail": verification.detail}
        self._audit.append(
            AuditKind.VERIFICATION,
            actor=self.identity,
            incident_id=incident_id,
            payload={"execution": execution.id, **checked},
        )
        if inverse is not None:
            self._audit.append(
                AuditKind.UNDO_OFFERED,
                actor=self.identity,
                incident_id=incident_id,
                payload={"execution": execution.id, "inverse": invocation_json(inverse)},
            )
        result = "succeeded" if verification.ok else "failed"
        self._metrics.actions.labels(action=proposal.action.value, outcome=result).inc()
        self._finish(
            execution,
            succeeded=verification.ok,
            outcome=did,
            verification=checked,
            approval_id=approval_id,
            undo=inverse is not None,
        )
        if verification.ok and incident_id:
            self._on_verified(incident_id)

    def _revalidate(
        self, proposal: Proposal, pending: _Pending | None, approval_id: str | None, *, claimed_at: datetime | None
    ) -> str | None:
        """Probe and score again right before acting; a reason to stop, or None to go on."""
        if self._is_paused():
            return "kill switch engaged"
        now = self._clock()
        incident = pending.incident if pending else None
        risk, decision = self._evaluator.rescore(proposal, incident, now=now, exclude_claim=claimed_at)
        self._audit.append(
            AuditKind.RISK,
            actor=self.identity,
            incident_id=incident.id if incident else None,
            payload={"revalidation": True, **risk.as_json(), "verdict": decision.verdict.value},
        )
        stop = precondition_refusal(decision) or ("shadow mode: decided, not acted" if decision.shadow else None)
        if stop is not None:
            return stop
        if approval_id is None:
            if decision.verdict is not Verdict.EXECUTE:
                return f"re-validation changed the verdict to {decision.verdict.value}: " + "; ".join(decision.rules)
            return None
        approved_risk = pending.approved_risk if pending and pending.approved_risk is not None else risk.total
        vetoed = decision.verdict is Verdict.DENY
        if needs_reapproval(approved_risk, risk.total, margin=self._settings.revalidation_margin, vetoed=vetoed):
            reason = f"risk rose from {approved_risk:.2f} to {risk.total:.2f} since approval" + (
                " and a veto now applies" if vetoed else ""
            )
            if not vetoed:
                fresh = self._approvals.reask(approval_id, risk, now=now, reason=reason)
                if fresh is not None and pending is not None:
                    self._pending[fresh.id] = _Pending(
                        pending.proposal, pending.incident, pending.proposal_id, fresh.id
                    )
            return reason
        return None

    def _verify(self, action: Any, proposal: Proposal, outcome: Outcome) -> Verification:
        deadline = time.monotonic() + self._settings.verify_timeout_seconds
        while True:
            try:
                verification: Verification = action.verify(self._ctx, proposal.params, outcome)
            except KubeError as exc:
                verification = Verification(ok=False, settled=False, detail=f"verify read failed: {exc}")
            if verification.settled or time.monotonic() >= deadline:
                if not verification.settled:
                    return Verification(ok=False, settled=True, detail=f"not settled in time: {verification.detail}")
                return verification
            self._sleep(self._settings.verify_interval_seconds)

    def _finish(
        self,
        execution: Execution,
        *,
        succeeded: bool,
        outcome: dict[str, Any],
        verification: dict[str, Any] | None = None,
        approval_id: str | None = None,
        undo: bool = False,
        refused: bool = False,
    ) -> None:
        self._store.executions.finish(
            execution.id,
            self.identity,
            succeeded=succeeded,
            outcome=outcome,
            verification=verification,
            refused=refused,
        )
        if approval_id:
            detail = (verification or {}).get("detail") or outcome.get("refused") or outcome.get("error") or ""
            now = self._clock()
            if succeeded:
                self._approvals.mark_succeeded(approval_id, now=now, result=str(detail), undo_available=undo)
            else:
                self._approvals.mark_failed(approval_id, now=now, result=str(detail), undo_available=undo)

    def _proposal_from(self, execution: Execution) -> Proposal:
        action, params = parse_invocation(execution.action, execution.params)
        return Proposal(action.name, params, action.target(params), execution.created_at)

    # --- restart -----------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """After a crash: settle claimed actions from the cluster's state, never re-running them;
        start the ones that were recorded but never claimed. Returns what was reconciled."""
        done = []
        for execution in self._store.executions.unfinished():
            with self._lock:
                if execution.id in self._in_flight:
                    continue  # this process is running it right now
            owner = execution.claimed_by or self.identity
            if execution.state is ExecutionState.CLAIMED:
                # Claimed but never started: nothing happened to the cluster; say so, do not act.
                self._store.executions.finish(
                    execution.id,
                    owner,
                    succeeded=False,
                    outcome={"refused": "interrupted before acting; not started after the restart"},
                    refused=True,
                )
                done.append(execution.id)
                continue
            proposal = self._proposal_from(execution)
            action = get_action(proposal.action)
            # Wait for it to settle as a normal run does: one early look would call a change that
            # is still rolling out a failure. The outcome recorded right after acting tells
            # verify what was done (a crash before that point leaves only the cluster to judge).
            recorded = outcome_from(execution.outcome) if execution.outcome else None
            verification = self._verify(action, proposal, recorded or Outcome(changed=True, detail="reconciled"))
            self._store.executions.finish(
                execution.id,
                owner,
                succeeded=verification.ok,
                outcome={
                    **(execution.outcome or {}),
                    "reconciled": True,
                    "note": "interrupted mid-action; not repeated",
                },
                verification={"ok": verification.ok, "detail": verification.detail},
            )
            self._audit.append(
                AuditKind.VERIFICATION,
                actor=self.identity,
                incident_id=execution.incident_id,
                payload={"execution": execution.id, "reconciled": True, "ok": verification.ok},
            )
            done.append(execution.id)
        self.resume_pending()
        return done

    def forget_dispatched(self, still_approved: set[str]) -> None:
        """Drop the memory of requests that left the approved state (run, failed, superseded)."""
        with self._lock:
            self._dispatched &= still_approved

    def reconcile_later(self) -> None:
        """Reconcile on a worker thread (from the leader-election callback, which must not wait)."""

        def task() -> None:
            self.reconcile()

        self.futures.append(self._pool.submit(task))

    def resume_pending(self) -> None:
        """Start every recorded, unclaimed execution this process is not already running."""
        for execution in self._store.executions.pending():
            self._submit(execution.id)

    def _submit(self, execution_id: str) -> None:
        with self._lock:
            if execution_id in self._in_flight:
                return
            self._in_flight.add(execution_id)
        future = self._pool.submit(self.run, execution_id)
        future.add_done_callback(lambda _: self._done(execution_id))
        self.futures.append(future)

    def _done(self, execution_id: str) -> None:
        with self._lock:
            self._in_flight.discard(execution_id)
