"""The incident pipeline: intake → planner → risk → policy → execute / approve / deny / escalate.

It records every step in the store and the audit chain, and hands actions to the executor
(which runs them on its own threads, so intake never waits on the cluster).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from pydantic_core import to_jsonable_python

from actions.base import TargetRef
from agent.audit import AuditEntry, AuditKind, AuditLog
from agent.evaluate import Evaluation, Evaluator, Outcome, incident_json, target_text
from agent.executor import Executor
from agent.intake import UNDESCRIBED, Alert, IgnoreReason, Incident, Intake, IntakeResult, ParsedBatch
from agent.lifecycle import IncidentLifecycle
from agent.metrics import Metrics
from agent.store import ExecutionState, IncidentStatus, Store
from approvals.model import ApprovalState
from approvals.queue import ApprovalQueue
from risk.model import Proposal, RiskScore
from risk.policy import thresholds_for
from risk.settings import PolicySettings

log = structlog.get_logger(__name__)

ACTOR = "scutum"
IN_HAND_STATES = (ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.EXECUTING)
IN_HAND_WINDOW = timedelta(hours=6)
"""How far back an unfinished execution still counts as holding its target."""


def proposal_json(proposal: Proposal) -> dict[str, Any]:
    return {
        "action": proposal.action.value,
        "params": proposal.params.model_dump(mode="json"),
        "target": {"kind": proposal.target.kind, "namespace": proposal.target.namespace, "name": proposal.target.name},
        "claims": dict(proposal.claims),
    }


def llm_exchanges(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every model exchange in a plan trace (the LLM planner's own, or nested in a fallback's):
    the prompt, tools offered, raw answer, tokens and latency, each its own audit record."""
    found: list[dict[str, Any]] = []
    if "request" in trace and "response" in trace:
        found.append({k: trace[k] for k in ("request", "response", "outcome") if k in trace})
    for value in trace.values():
        if isinstance(value, Mapping):
            found.extend(llm_exchanges(value))
    return found


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at.isoformat(),
        "firing": alert.firing,
        "source": alert.source.value,
    }


@dataclass
class Handled:
    """What the pipeline did with one incident: the evaluation and where it went."""

    evaluation: Evaluation
    execution_id: str | None = None
    approval_id: str | None = None
    joined: str | None = None
    """Another incident's action already covers this target: its id (nothing new was started)."""


@dataclass
class Notices:
    """Where escalations and denials are told to humans (Slack or the console)."""

    escalate: Callable[[Incident, str], None] = field(default=lambda incident, reason: None)
    denied: Callable[[Incident, str], None] | None = None
    """A denial a human must see; None: told like an escalation."""
    resolved: Callable[[Incident], None] = field(default=lambda incident: None)
    """An incident that closed because its alerts resolved."""


class Pipeline:
    """Turns intake results into decisions, records them, and routes each one."""

    def __init__(
        self,
        *,
        intake: Intake,
        lifecycle: IncidentLifecycle,
        evaluator: Evaluator,
        store: Store,
        audit: AuditLog,
        approvals: ApprovalQueue,
        executor: Executor,
        policy: PolicySettings,
        metrics: Metrics,
        clock: Callable[[], datetime],
        notices: Notices | None = None,
        on_handled: Callable[[Handled], None] | None = None,
    ) -> None:
        self.intake = intake
        self.lifecycle = lifecycle
        self.evaluator = evaluator
        self._store = store
        self._audit = audit
        self._approvals = approvals
        self._executor = executor
        self._policy = policy
        self._metrics = metrics
        self._clock = clock
        self._notices = notices or Notices()
        self._on_handled = on_handled
        self._lock = threading.Lock()
        """Poll and webhook arrive on different threads; intake and routing run one batch at a time."""

    # --- intake ------------------------------------------------------------------------

    def ingest_poll(self, payload: bytes | str | object) -> list[Handled]:
        """A full `GET /api/v2/alerts` answer: alerts missing from it have resolved."""
        with self._lock:
            now = self._clock()
            return self.handle(self._with_undecided(self.intake.ingest_poll(payload, now=now)), now=now)

    def ingest_webhook(self, payload: bytes | str | object) -> list[Handled]:
        """An Alertmanager webhook notification."""
        with self._lock:
            now = self._clock()
            return self.handle(self._with_undecided(self.intake.ingest_webhook(payload, now=now)), now=now)

    def _with_undecided(self, result: IntakeResult) -> IntakeResult:
        """Add the open incidents whose decision was never committed: an alert counts as seen
        only once its decision is in the store, so one that failed is decided on the next batch."""
        fresh = {incident.id for incident in result.new}
        result.new.extend(i for i in self.intake.undecided() if i.id not in fresh)
        return result

    def ingest_parsed(self, batch: ParsedBatch, *, complete: bool = False) -> list[Handled]:
        """Alerts already parsed, bounded and filtered at the edge (the decision queue's job).
        A malformed poll answer is never taken as complete: it resolves nothing."""
        with self._lock:
            now = self._clock()
            if batch.filtered:
                self._metrics.alerts.labels(outcome="filtered").inc(batch.filtered)
            result = self.intake.ingest_batch(batch, now=now, complete=complete and batch.malformed is None)
            return self.handle(result, now=now)

    def handle(self, result: IntakeResult, *, now: datetime) -> list[Handled]:
        """Record what intake rejected and resolved, and decide each new incident. A step that
        fails (the database is down) is logged and left to the next batch, never the loop's end."""
        self._record_rejected(result)
        self._metrics.alerts.labels(outcome="ignored").inc(len(result.ignored))
        self._record_dropped(result)
        for incident in result.resolved:
            self._guarded("incident_resolve", incident.id, partial(self._resolved, incident))
        handled = []
        for incident in result.new:
            try:
                if self._rejoined(incident):
                    continue
                handled.append(self.decide(incident, now=now))
            except Exception as exc:  # task boundary: one incident must not stop the loop
                log.exception("incident_failed", incident=incident.id)
                error = {"error": repr(exc), "released": True}
                self._guarded("incident_failed_record", incident.id, partial(self._failed, incident.id, error))
        return handled

    def _record_rejected(self, result: IntakeResult) -> None:
        """One audit record per described rejection, one for all the undescribed ones of the batch."""
        if not result.rejected:
            return
        self._metrics.alerts.labels(outcome="rejected").inc(len(result.rejected))
        described = [r for r in result.rejected if r.reason != UNDESCRIBED]
        records: list[dict[str, Any]] = [
            {"rejected": True, "reason": r.reason, "excerpt": r.excerpt} for r in described
        ]
        for record in records:
            log.warning("alert_rejected", reason=record["reason"])
        if undescribed := len(result.rejected) - len(records):
            log.warning("alerts_rejected_undescribed", count=undescribed)
            records.append({"rejected": True, "reason": UNDESCRIBED, "count": undescribed})
        entries = [AuditEntry(AuditKind.ALERT, ACTOR, record) for record in records]
        self._guarded("alert_rejected", None, partial(self._audit.append_many, entries))

    def _record_dropped(self, result: IntakeResult) -> None:
        """Alerts refused at the open-incident cap: counted, and one audit record per batch."""
        dropped = [item.alert for item in result.ignored if item.reason is IgnoreReason.CAPACITY]
        if not dropped:
            return
        self._metrics.alerts.labels(outcome="dropped").inc(len(dropped))
        sample = sorted({alert.name for alert in dropped})[:5]
        payload = {"refused": True, "reason": "open-incident capacity", "dropped": len(dropped), "alert_names": sample}
        self._audit.append(AuditKind.ALERT, actor=ACTOR, payload=payload)
        log.warning("alerts_dropped_at_capacity", dropped=len(dropped))

    def _failed(self, incident_id: str, error: dict[str, Any]) -> None:
        """A decision that failed is released (decided again on the next batch) and recorded."""
        self._audit.append(AuditKind.ERROR, actor=ACTOR, incident_id=incident_id, payload=error)

    def _guarded(self, step: str, incident_id: str | None, run: Callable[[], object]) -> None:
        try:
            run()
        except Exception:  # task boundary: the next batch tries again
            log.exception("pipeline_step_failed", step=step, incident=incident_id)

    def _resolved(self, incident: Incident) -> None:
        status = self.lifecycle.alerts_resolved(incident.id)
        event = {"event": "resolved", "status": status.value if status else None}
        self._audit.append(AuditKind.INCIDENT, actor=ACTOR, incident_id=incident.id, payload=event)
        self._notices.resolved(incident)

    def _rejoined(self, incident: Incident) -> bool:
        """An incident seen again (after a restart, a failover or an empty answer from
        Alertmanager) whose approval or action is still in hand is joined, never decided twice."""
        stored = self._store.incidents.get(incident.id)
        if stored is None or stored.status is not IncidentStatus.HANDLING:
            return False
        if self.lifecycle.settle(incident.id) is not IncidentStatus.HANDLING:
            return False
        self.intake.mark_decided(incident.id)
        self._audit.append(
            AuditKind.DECISION,
            actor=ACTOR,
            incident_id=incident.id,
            payload={"rejoined": incident.id, "reason": "its approval or action is still in hand"},
        )
        log.info("incident_rejoined", incident=incident.id)
        return True

    # --- one incident ------------------------------------------------------------------

    def decide(self, incident: Incident, *, now: datetime) -> Handled:
        """Plan, score and route one new incident; every step is recorded."""
        bound = log.bind(incident=incident.id)
        self._metrics.alerts.labels(outcome="incident").inc()
        self._metrics.incidents.inc()
        primary = incident.primary
        if self._store.incidents.get(incident.id) is not None:
            # The same alerts came back after the incident was closed (a fix that did not hold),
            # or its decision was released: decide again under the same id; cooldowns and
            # budgets see the earlier action.
            self._store.incidents.transition(incident.id, IncidentStatus.OPEN)
        else:
            self._store.incidents.open(
                primary.fingerprint,
                incident_id=incident.id,
                alerts=[alert_json(a) for a in incident.alerts.values()],
                started_at=incident.started_at,
                alert_name=primary.name,
                namespace=incident.target.namespace if incident.target else primary.labels.get("namespace"),
                group_key=incident.group_key,
            )
        evaluation = self.evaluator.evaluate(incident, now=now)
        opened = AuditEntry(AuditKind.INCIDENT, ACTOR, incident_json(incident), incident.id)
        # The decision's records, proposal and status in one commit; notices, the executor and
        # approval requests start after it (`after_commit`), never inside the transaction.
        with self._store.transaction():
            self._audit.append_many([opened, *self._plan_records(evaluation)])
            handled = self._route(evaluation, now=now)
        self._metrics.verdicts.labels(verdict=evaluation.outcome.value).inc()
        bound.info("incident_decided", verdict=evaluation.outcome.value, shadow=evaluation.shadow)
        self.intake.mark_decided(incident.id)
        if handled.execution_id is None and handled.approval_id is None:
            self.intake.park(incident.id)  # nothing in hand: its slot may go to a new target
        if self._on_handled:
            self._on_handled(handled)
        return handled

    def _plan_records(self, evaluation: Evaluation) -> list[AuditEntry]:
        """The decision's audit records: model exchanges, plan, facts, risk, verdict."""
        incident_id = evaluation.incident.id
        trace = dict(evaluation.plan.trace)
        entries = [AuditEntry(AuditKind.LLM_EXCHANGE, ACTOR, x, incident_id) for x in llm_exchanges(trace)]
        entries.append(AuditEntry(AuditKind.PLAN, ACTOR, {"trace": trace}, incident_id))
        if evaluation.facts is not None:
            entries.append(AuditEntry(AuditKind.FACTS, ACTOR, to_jsonable_python(evaluation.facts), incident_id))
        if evaluation.risk is not None:
            self._metrics.risk.observe(evaluation.risk.total)
            entries.append(AuditEntry(AuditKind.RISK, ACTOR, evaluation.risk.as_json(), incident_id))
        verdict = {
            "verdict": evaluation.outcome.value,
            "rules": list(evaluation.reasons),
            "shadow": evaluation.shadow,
            "proposal": proposal_json(evaluation.proposal) if evaluation.proposal else None,
        }
        entries.append(AuditEntry(AuditKind.DECISION, ACTOR, verdict, incident_id))
        return entries

    def _route(self, evaluation: Evaluation, *, now: datetime) -> Handled:
        handled = Handled(evaluation)
        incident = evaluation.incident
        proposal = evaluation.proposal
        if evaluation.outcome is Outcome.IGNORE:
            self._set_status(incident, IncidentStatus.IGNORED)
            return handled
        if evaluation.outcome is Outcome.ESCALATE or proposal is None or evaluation.risk is None:
            self._set_status(incident, IncidentStatus.ESCALATED)
            self._escalate(incident, "; ".join(evaluation.reasons))
            return handled
        record = self._record_proposal(evaluation, proposal, evaluation.risk)
        if evaluation.shadow:
            return handled
        owner = self.in_hand(proposal.target, now=now, asking=incident.id)
        if owner == incident.id:  # its own approval or action is still in hand: never a second
            self._handling(incident)
            handled.joined = owner
            return handled
        if owner is not None:
            handled.joined = owner
            self._set_status(incident, IncidentStatus.JOINED)
            self._audit.append(
                AuditKind.DECISION,
                actor=ACTOR,
                incident_id=incident.id,
                payload={"joined": owner, "reason": f"{target_text(proposal.target)} is already in hand"},
            )
            return handled
        if evaluation.outcome is Outcome.EXECUTE:
            # The execution is recorded first, then the incident is HANDLING: the store never
            # shows an incident in hand with nothing started (the settler would escalate it).

            def submit() -> None:
                handled.execution_id = self._executor.submit_new(proposal, incident, proposal_id=record)
                self._handling(incident)

            self._store.after_commit(submit)
        elif evaluation.outcome is Outcome.APPROVE:

            def ask() -> None:
                self._request_approval(evaluation, proposal, record, handled, now=now)
                self._handling(incident)

            self._store.after_commit(ask)
        elif evaluation.facts is not None and evaluation.facts.environment.kill_switch:
            self._set_status(incident, IncidentStatus.HELD)
            self._escalate(
                incident, "held while the kill switch is on (decided again on resume): " + "; ".join(evaluation.reasons)
            )
        else:
            self._set_status(incident, IncidentStatus.ESCALATED)
            self._escalate(incident, "denied by policy: " + "; ".join(evaluation.reasons), denied=True)
        return handled

    def _request_approval(
        self, evaluation: Evaluation, proposal: Proposal, record: str, handled: Handled, *, now: datetime
    ) -> None:
        assert evaluation.risk is not None  # only scored proposals are sent for approval
        incident = evaluation.incident
        execute_max, _, _ = thresholds_for(proposal, self._policy)
        request = self._approvals.request(
            proposal,
            evaluation.risk,
            incident_id=incident.id,
            incident_summary=f"{', '.join(incident.alert_names)} on {target_text(proposal.target)}",
            threshold=execute_max,
            now=now,
        )
        handled.approval_id = request.id

    def _record_proposal(self, evaluation: Evaluation, proposal: Proposal, risk: RiskScore) -> str:
        """Store the proposal and the decision on it; returns the proposal's id."""
        record = self._store.incidents.add_proposal(
            evaluation.incident.id,
            action=proposal.action.value,
            params=proposal.params.model_dump(mode="json"),
            target_kind=proposal.target.kind,
            target_name=proposal.target.name,
            target_namespace=proposal.target.namespace,
            claims=dict(proposal.claims),
            planner=str(evaluation.plan.trace.get("planner", "")),
        )
        self._store.incidents.add_decision(
            record.id,
            verdict=evaluation.outcome.value,
            risk_total=risk.total,
            components=risk.as_json()["components"],
            rules=evaluation.reasons,
            shadow=evaluation.shadow,
        )
        return record.id

    def _set_status(self, incident: Incident, status: IncidentStatus) -> None:
        self._store.incidents.transition(incident.id, status)

    def _handling(self, incident: Incident) -> None:
        """In hand; settled at once if its action already finished (a fast verification)."""
        self._set_status(incident, IncidentStatus.HANDLING)
        self.lifecycle.settle(incident.id)

    def in_hand(self, target: TargetRef, *, now: datetime, asking: str | None = None) -> str | None:
        """The incident whose action on `target` awaits approval, is under way, or succeeded
        within the cooldown, if any: more alerts about the same target join it. A success of
        the `asking` incident itself, or of one already closed, does not: the fix did not hold.

        Read from the store, so it holds across restarts and replicas.
        """
        wanted = (target.kind, target.namespace, target.name)
        for state in IN_HAND_STATES:
            for request in self._store.approvals.list(state=state):
                if (request.target.kind, request.target.namespace, request.target.name) == wanted:
                    return request.incident_id
        cooldown = timedelta(seconds=self._policy.cooldown_seconds)
        for execution in self._store.executions.recent(
            now - max(IN_HAND_WINDOW, cooldown),
            namespace=target.namespace,
            target_kind=target.kind,
            target_name=target.name,
        ):
            if execution.state in (ExecutionState.PENDING, ExecutionState.CLAIMED, ExecutionState.RUNNING):
                return execution.incident_id or execution.id
            finished = execution.finished_at or execution.created_at
            recent_success = execution.state is ExecutionState.SUCCEEDED and now - finished <= cooldown
            if recent_success and execution.incident_id != asking and self._still_open(execution.incident_id):
                return execution.incident_id or execution.id
        return None

    def _still_open(self, incident_id: str | None) -> bool:
        """Whether a fixed incident still holds its target: not once it is closed (verified or
        resolved). A re-fire then is decided on its own (the cooldown veto sends it to humans),
        not silently joined to an incident that is over."""
        if incident_id is None:
            return True
        stored = self._store.incidents.get(incident_id)
        return stored is None or stored.status not in (IncidentStatus.VERIFIED, IncidentStatus.RESOLVED)

    def _escalate(self, incident: Incident, reason: str, *, denied: bool = False) -> None:
        self._audit.append(AuditKind.ESCALATION, actor=ACTOR, incident_id=incident.id, payload={"reason": reason})
        tell = self._notices.denied if denied and self._notices.denied is not None else self._notices.escalate
        self._store.after_commit(lambda: tell(incident, reason))
