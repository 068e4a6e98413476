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
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from actions.base import ActionContext, ActionRefused, Outcome, Verification
from actions.kube import KubeError
from actions.registry import get_action
from agent.audit import AuditKind, AuditLog
from agent.evaluate import Evaluator
from agent.failures import FailureReason, FailureReporter
from agent.fencing import AmbiguousWrite, FenceGuard, judge_writes
from agent.intake import Incident
from agent.intent import Effect
from agent.metrics import Metrics
from agent.outcomes import invocation_json, outcome_json
from agent.owner_steps import OwnerSteps
from agent.proposals import StoredProposals
from agent.recovery import Abandoned, Recovery, RunHooks
from agent.store import Execution, FencedOut, Store
from approvals.model import ApprovalRequest, ApprovalState
from approvals.queue import ApprovalQueue, needs_reapproval
from risk.assess import precondition_refusal
from risk.model import Decision, Proposal, Verdict

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
    max_attempts: int = 3
    """Runs interrupted before any write took effect are started again up to this many times in all."""


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
    executing: bool = False
    """The approval is already `executing` (a run taken over after a crash): not marked again."""


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
        failures: FailureReporter | None = None,
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
        self._failures = failures or FailureReporter(store, audit, metrics, actor=identity)
        self._recovery = Recovery(
            store=store,
            audit=audit,
            kube=context.kube,
            identity=identity,
            failures=self._failures,
            metrics=metrics,
            max_attempts=self._settings.max_attempts,
            run=RunHooks(
                verify=self._verify,
                finish=self._finish,
                submit=self._submit_claimed,
                proposal=lambda execution: self._proposals.for_execution(execution).proposal,
                on_verified=on_verified,
            ),
        )
        self._pool = ThreadPoolExecutor(max_workers=self._settings.workers, thread_name_prefix="executor")
        self._proposals = StoredProposals(store)
        self._pending: dict[str, _Pending] = {}
        """Executions submitted by this process and not started yet (bounded by the pool's
        queue); anything else is rebuilt from the store (`StoredProposals`)."""
        self._dispatched: set[str] = set()
        """Approval requests this process has turned into executions."""
        self._in_flight: set[str] = set()
        """Executions submitted to this process's workers and not finished yet."""
        self._lock = threading.Lock()
        self._recovering = threading.Lock()
        """Held while interrupted runs are taken over, so two recoveries never take the same one."""
        self.futures: list[Future[None]] = []
        self._stopping = threading.Event()
        self._writing = 0
        """Runs inside their action's execute (sending dry runs and writes) right now."""

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

    def on_approved(self, request: ApprovalRequest) -> None:
        """The leader's dispatch of an approved request (wherever it was approved): it becomes
        an execution, once per process, its proposal read back from the store. A standby leaves
        it to the leader, whose dispatch job finds it in the store."""
        if not self._is_leader():
            return
        with self._lock:
            if request.id in self._dispatched:
                return
            self._dispatched.add(request.id)
        if self._store.executions.for_approval_request(request.id) is not None:
            return  # recorded before a restart or by another leader: `resume_pending` runs it, once
        stored = self._proposals.for_request(request)
        pending = _Pending(
            stored.proposal,
            stored.incident,
            stored.proposal_id,
            request.id,
            approved_risk=request.risk_total,
            incident_id=request.incident_id,
        )
        execution = self._store.executions.create(
            action=pending.proposal.action.value,
            params=pending.proposal.params.model_dump(mode="json"),
            target_kind=pending.proposal.target.kind,
            target_name=pending.proposal.target.name,
            target_namespace=pending.proposal.target.namespace,
            proposal_id=pending.proposal_id,
            incident_id=pending.incident.id if pending.incident else pending.incident_id,
            approval_request_id=request.id,
        )
        self._pending[execution.id] = pending
        self._submit(execution.id)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every submitted action to finish (tests, the demo, shutdown)."""
        for future in list(self.futures):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        """Stop at once and wait for the workers (tests; the daemon uses `stop`)."""
        self._pool.shutdown(wait=True, cancel_futures=False)

    @property
    def writing(self) -> bool:
        """Whether a run is inside its action (a write may be on the wire)."""
        with self._lock:
            return self._writing > 0

    def stop(self, *, budget_seconds: float) -> bool:
        """Bounded shutdown: take no new run, abandon waits and verifications at their next pause
        (the runs stay claimed for recovery), give in-flight writes up to `budget_seconds`.
        True when every worker finished in time."""
        self._stopping.set()
        _, busy = wait_for(list(self.futures), timeout=budget_seconds)  # each run recorded its own end
        self._pool.shutdown(wait=False, cancel_futures=True)
        return not busy

    def _pause(self, seconds: float) -> None:
        """The executor's and its actions' waits; at shutdown they end the run (Abandoned)."""
        if self._stopping.is_set():
            raise Abandoned
        self._sleep(seconds)
        if self._stopping.is_set():
            raise Abandoned

    # --- one run -----------------------------------------------------------------------

    def run(self, execution_id: str) -> None:
        """Claim, re-validate, act and verify one execution. Never raises."""
        bound = log.bind(execution=execution_id)
        try:
            self._run(execution_id, bound)
        except Exception as exc:  # noqa: BLE001 - task boundary: record and keep the pool alive
            self._crashed(execution_id, exc, bound)

    def _crashed(self, execution_id: str, exc: Exception, bound: Any) -> None:
        """An unexpected error in a run: logged, audited and counted; the run stays for recovery."""
        bound.exception("execution_crashed")
        execution = None
        try:
            self._audit.append(AuditKind.ERROR, actor=ACTOR, payload={"execution": execution_id, "error": repr(exc)})
            execution = self._store.executions.get(execution_id)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            self._metrics.store_errors.inc()
        action = execution.action if execution else "unknown"
        self._metrics.actions_failed.labels(action=action, reason=FailureReason.CRASHED.value).inc()

    def _run(self, execution_id: str, bound: Any) -> None:
        if self._stopping.is_set():
            bound.info("execution_left_for_next_start")
            return
        if not self._is_leader():
            bound.info("execution_left_to_leader")
            return
        if not self._store.executions.claim_execution(execution_id, self.identity):
            bound.info("execution_claimed_elsewhere")
            return
        execution = self._store.executions.get(execution_id)
        assert execution is not None  # we just claimed it
        self._run_claimed(execution, self._pending.pop(execution_id, None), bound)

    def _run_claimed(self, execution: Execution, pending: _Pending | None, bound: Any) -> None:
        """Re-validate and act on an execution this replica holds (claimed, or taken over to retry)."""
        if pending is None:  # recorded by another process, or before a restart: read it back
            pending = self._read_back(execution)
        proposal = pending.proposal
        approval_id = pending.approval_id
        if approval_id and not pending.executing and not self._approvals.mark_executing(approval_id, now=self._clock()):
            self._refuse(execution, "approval no longer approved", approval_id=None, escalate=True)
            return
        refusal, escalate = self._revalidate(proposal, pending, approval_id, claimed_at=execution.claimed_at)
        if refusal is not None:
            self._refuse(execution, refusal, approval_id=approval_id, escalate=escalate)
            return
        self._store.executions.mark_running(execution.id, self.identity, fence=execution.fence)
        self._act(execution, proposal, approval_id, bound)

    def _read_back(self, execution: Execution) -> _Pending:
        """A run this process did not submit: its proposal, and the approval behind it (so it is
        re-validated against what the approvers saw, not as an automatic run)."""
        stored = self._proposals.for_execution(execution)
        request = self._approvals.get(execution.approval_request_id) if execution.approval_request_id else None
        return _Pending(
            stored.proposal,
            stored.incident,
            stored.proposal_id,
            request.id if request is not None else None,
            approved_risk=request.risk_total if request is not None else None,
            incident_id=execution.incident_id,
            executing=request is not None and request.state is ApprovalState.EXECUTING,
        )

    def _refuse(self, execution: Execution, reason: str, *, approval_id: str | None, escalate: bool) -> None:
        outcome = {"refused": reason}
        self._finish(execution, succeeded=False, outcome=outcome, approval_id=approval_id, refused=True)
        self._metrics.actions.labels(action=execution.action, outcome="refused").inc()
        if escalate:
            self._failures.report(execution, reason=FailureReason.REFUSED, error=reason, details={})

    def _act(self, execution: Execution, proposal: Proposal, approval_id: str | None, bound: Any) -> None:
        """Dry run and write (inside the action, each fenced), record what it did, verify, offer the undo."""
        action = get_action(proposal.action)
        guard = FenceGuard(
            self._store.executions,
            self._ctx.kube,
            execution_id=execution.id,
            owner=self.identity,
            fence=execution.fence,
            holds_lease=self._is_leader,
        )
        paused: dict[str, Any] | None = None
        with self._lock:
            self._writing += 1
        try:
            ctx = replace(self._ctx, kube=self._ctx.kube.guarded(guard), sleep=self._pause)
            steps = OwnerSteps(context=ctx, store=self._store, audit=self._audit, identity=self.identity)
            paused = steps.before(execution, proposal)  # pause-then-act: the owner first, fenced too
            outcome = action.execute(ctx, proposal.params)
        except Abandoned:
            bound.warning("execution_abandoned_at_shutdown", step="act")
            return  # left running; the next leader judges it by its intents
        except FencedOut as exc:
            bound.warning("execution_fenced_out", error=str(exc))
            self._metrics.actions_failed.labels(action=execution.action, reason=FailureReason.FENCED.value).inc()
            return  # the replica that holds the Lease and the claim now judges and records the run
        except (ActionRefused, KubeError) as exc:
            recovered = self._after_error(execution, exc, approval_id=approval_id)
            if recovered is None:
                return
            outcome = recovered
        finally:
            with self._lock:
                self._writing -= 1
        try:
            self._record_and_verify(execution, proposal, outcome, approval_id=approval_id, paused=paused)
        except Abandoned:
            bound.warning("execution_abandoned_at_shutdown", step="verify")

    def _after_error(self, execution: Execution, exc: Exception, *, approval_id: str | None) -> Outcome | None:
        """An action that raised: judge its writes against the cluster. Applied: an outcome to
        verify; otherwise the failure is recorded (not applied: no cooldown is spent) and None."""
        effect, states = judge_writes(self._store.executions.get(execution.id).intent, self._ctx.kube)  # type: ignore[union-attr]
        if isinstance(exc, AmbiguousWrite):
            effect = Effect.UNKNOWN
        if effect is Effect.APPLIED:
            return Outcome(changed=True, detail=f"the writes took effect although the API answered: {exc}")
        reason = FailureReason.UNKNOWN_EFFECT if effect is Effect.UNKNOWN else FailureReason.API_ERROR
        if isinstance(exc, ActionRefused) and not states:
            reason = FailureReason.REFUSED
        self._metrics.actions.labels(action=execution.action, outcome="failed").inc()
        details = {"effect": effect.value} | ({"states": states} if effect is Effect.UNKNOWN else {})
        self._finish(
            execution, succeeded=False, outcome={"error": str(exc)}, approval_id=approval_id, effect=effect.value
        )
        self._failures.report(execution, reason=reason, error=str(exc), details=details)
        return None

    def _record_and_verify(
        self,
        execution: Execution,
        proposal: Proposal,
        outcome: Outcome,
        *,
        approval_id: str | None,
        paused: dict[str, Any] | None = None,
    ) -> None:
        action = get_action(proposal.action)
        incident_id = execution.incident_id
        did = outcome_json(outcome) | ({"owner_pause": paused} if paused else {})
        self._store.executions.record_outcome(execution.id, self.identity, did, fence=execution.fence)
        steps = OwnerSteps(context=self._ctx, store=self._store, audit=self._audit, identity=self.identity)
        steps.after_undo(execution, proposal)  # the Undo of a paused run gives the owner its sync back
        inverse = action.inverse(proposal.params, outcome) if outcome.before or outcome.after else None
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
            effect=Effect.APPLIED.value if outcome.changed else None,
        )
        if not verification.ok:
            error = f"not verified: {verification.detail}"
            self._failures.report(execution, reason=FailureReason.NOT_VERIFIED, error=error, details={})
        elif incident_id:
            self._on_verified(incident_id)

    def _revalidate(
        self, proposal: Proposal, pending: _Pending | None, approval_id: str | None, *, claimed_at: datetime | None
    ) -> tuple[str | None, bool]:
        """Probe and score again right before acting: a reason to stop (None to go on), and
        whether that stop is a failure to escalate (not when the approver is simply asked again)."""
        if self._is_paused():
            return "kill switch engaged", True
        now = self._clock()
        incident = pending.incident if pending else None
        risk, decision = self._evaluator.rescore(proposal, incident, now=now, exclude_claim=claimed_at)
        self._audit.append(
            AuditKind.RISK,
            actor=self.identity,
            incident_id=incident.id if incident else None,
            payload={"revalidation": True, **risk.as_json(), "verdict": decision.verdict.value},
        )
        stop = _stop_before_acting(decision)
        if stop is not None:
            return stop
        if approval_id is None:
            if decision.verdict is not Verdict.EXECUTE:
                changed = f"re-validation changed the verdict to {decision.verdict.value}: "
                return changed + "; ".join(decision.rules), True
            return None, False
        approved_risk = pending.approved_risk if pending and pending.approved_risk is not None else risk.total
        vetoed = decision.verdict is Verdict.DENY
        if needs_reapproval(approved_risk, risk.total, margin=self._settings.revalidation_margin, vetoed=vetoed):
            reason = f"risk rose from {approved_risk:.2f} to {risk.total:.2f} since approval" + (
                " and a veto now applies" if vetoed else ""
            )
            if not vetoed:  # the fresh request's approval reads its proposal back from the store
                self._approvals.reask(approval_id, risk, now=now, reason=reason)
            return reason, vetoed
        return None, False

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
            self._pause(self._settings.verify_interval_seconds)

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
        effect: str | None = None,
    ) -> None:
        self._store.executions.finish(
            execution.id,
            self.identity,
            succeeded=succeeded,
            outcome=outcome,
            verification=verification,
            refused=refused,
            effect=Effect.NOT_APPLIED.value if refused else effect,
            fence=execution.fence,
        )
        if approval_id:
            detail = (verification or {}).get("detail") or outcome.get("refused") or outcome.get("error") or ""
            now = self._clock()
            if succeeded:
                self._approvals.mark_succeeded(approval_id, now=now, result=str(detail), undo_available=undo)
            else:
                self._approvals.mark_failed(approval_id, now=now, result=str(detail), undo_available=undo)

    # --- restart -----------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """After a crash or a failover: take over and judge every interrupted run (see
        `agent.recovery`), then start the recorded, unclaimed ones. Returns the runs taken over."""
        with self._recovering:
            with self._lock:
                busy = set(self._in_flight)
            done = self._recovery.recover_all(skip=busy)
        self.resume_pending()
        return done

    def recover_own(self) -> list[str]:
        """Settle the runs this replica claimed that no worker of it runs any more (one crashed,
        e.g. when the store failed mid-run), as a restart would, without waiting for one: the
        store, not this process's memory, says they are unfinished. Returns the runs taken over."""
        if self._stopping.is_set():
            return []  # what shutdown abandons is the next start's to recover
        if not self._recovering.acquire(blocking=False):
            return []  # a reconcile is settling them now
        try:
            with self._lock:
                busy = set(self._in_flight)  # read under the recovery lock: what it submitted is in here
            return self._recovery.recover_all(skip=busy, owner=self.identity)
        finally:
            self._recovering.release()

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
        # Bounded: finished runs are forgotten (a run that raised is kept for `wait` to report).
        self.futures = [f for f in self.futures if not f.done() or f.exception() is not None]
        self.futures.append(future)

    def _submit_claimed(self, execution: Execution) -> None:
        """Run an execution this replica already holds (taken over to retry) on a worker."""
        with self._lock:
            if execution.id in self._in_flight:
                return
            self._in_flight.add(execution.id)

        def task() -> None:
            bound = log.bind(execution=execution.id)
            try:
                self._run_claimed(execution, None, bound)
            except Exception as exc:  # noqa: BLE001 - task boundary: record and keep the pool alive
                bound.exception("execution_crashed")
                self._audit.append(
                    AuditKind.ERROR, actor=ACTOR, payload={"execution": execution.id, "error": repr(exc)}
                )

        future = self._pool.submit(task)
        future.add_done_callback(lambda _: self._done(execution.id))
        self.futures.append(future)

    def _done(self, execution_id: str) -> None:
        with self._lock:
            self._in_flight.discard(execution_id)


def _stop_before_acting(decision: Decision) -> tuple[str, bool] | None:
    """A failed precondition on fresh facts (escalated: a human must know), or shadow mode."""
    refused = precondition_refusal(decision)
    if refused is not None:
        return refused, True
    return ("shadow mode: decided, not acted", False) if decision.shadow else None
