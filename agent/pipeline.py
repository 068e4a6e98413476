"""The incident pipeline: intake → planner → risk → policy → execute / approve / deny / escalate.

It records every step in the store and the audit chain, and hands actions to the executor
(which runs them on its own threads, so intake never waits on the cluster).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic_core import to_jsonable_python

from actions.base import TargetRef
from agent.audit import AuditEntry, AuditKind, AuditLog
from agent.evaluate import Evaluation, Evaluator, Outcome, incident_json, target_text
from agent.executor import Executor
from agent.intake import Alert, IgnoreReason, Incident, Intake, IntakeResult, ParsedBatch
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
            return self.handle(self.intake.ingest_poll(payload, now=now), now=now)

    def ingest_webhook(self, payload: bytes | str | object) -> list[Handled]:
        """An Alertmanager webhook notification."""
        with self._lock:
            now = self._clock()
            return self.handle(self.intake.ingest_webhook(payload, now=now), now=now)

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
        """Record what intake rejected and resolved, and decide each new incident."""
        for rejected in result.rejected:
            self._metrics.alerts.labels(outcome="rejected").inc()
            self._audit.append(
                AuditKind.ALERT,
                actor=ACTOR,
                payload={"rejected": True, "reason": rejected.reason, "excerpt": rejected.excerpt},
            )
            log.warning("alert_rejected", reason=rejected.reason)
        self._metrics.alerts.labels(outcome="ignored").inc(len(result.ignored))
        self._record_dropped(result)
        for incident in result.resolved:
            if self._store.incidents.get(incident.id) is not None:
                self._store.incidents.set_status(incident.id, IncidentStatus.RESOLVED)
            self._audit.append(AuditKind.INCIDENT, actor=ACTOR, incident_id=incident.id, payload={"event": "resolved"})
            self._notices.resolved(incident)
        handled = []
        for incident in result.new:
            try:
                handled.append(self.decide(incident, now=now))
            except Exception as exc:  # task boundary: one incident must not stop the loop
                log.exception("incident_failed", incident=incident.id)
                self._audit.append(AuditKind.ERROR, actor=ACTOR, incident_id=incident.id, payload={"error": repr(exc)})
        return handled

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

    # --- one incident ------------------------------------------------------------------

    def decide(self, incident: Incident, *, now: datetime) -> Handled:
        """Plan, score and route one new incident; every step is recorded."""
        bound = log.bind(incident=incident.id)
        self._metrics.alerts.labels(outcome="incident").inc()
        self._metrics.incidents.inc()
        primary = incident.primary
        if self._store.incidents.get(incident.id) is not None:
            # The same alerts came back after the incident was closed (a fix that did not hold):
            # decide again under the same id; cooldowns and budgets see the earlier action.
            self._store.incidents.set_status(incident.id, IncidentStatus.OPEN)
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
        owner = self.in_hand(proposal.target, now=now)
        if owner is not None and owner != incident.id:
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
            self._set_status(incident, IncidentStatus.HANDLING)

            def submit() -> None:
                handled.execution_id = self._executor.submit_new(proposal, incident, proposal_id=record)

            self._store.after_commit(submit)
        elif evaluation.outcome is Outcome.APPROVE:
            self._set_status(incident, IncidentStatus.HANDLING)
            self._store.after_commit(lambda: self._request_approval(evaluation, proposal, record, handled, now=now))
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
        self._executor.remember(request.id, proposal, incident, proposal_id=record)
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
        self._store.incidents.set_status(incident.id, status)

    def in_hand(self, target: TargetRef, *, now: datetime) -> str | None:
        """The incident whose action on `target` awaits approval, is under way, or succeeded
        within the cooldown, if any: more alerts about the same target join it.

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
            if execution.state is ExecutionState.SUCCEEDED and now - finished <= cooldown:
                return execution.incident_id or execution.id
        return None

    def _escalate(self, incident: Incident, reason: str, *, denied: bool = False) -> None:
        self._audit.append(AuditKind.ESCALATION, actor=ACTOR, incident_id=incident.id, payload={"reason": reason})
        tell = self._notices.denied if denied and self._notices.denied is not None else self._notices.escalate
        self._store.after_commit(lambda: tell(incident, reason))
