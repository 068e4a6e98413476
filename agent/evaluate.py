"""One incident from plan to verdict, with no side effects: planner → probes → risk → policy.

The daemon, `scutum plan` and the benchmarks all decide through `Evaluator.evaluate`, so what
a dry `plan` prints is exactly what the daemon would do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from actions.base import ActionLimits, SnapshotSource, TargetRef
from actions.premise import AlertPremise, premise_of
from agent.intake import Incident
from agent.planning.base import Escalation, Ignore, Planner, PlanResult
from risk.assess import assess
from risk.autonomy import GrantSource, apply_grant
from risk.facts import Facts
from risk.model import Decision, Proposal, RiskScore
from risk.probes import probe
from risk.settings import PolicySettings, RiskSettings
from risk.sources import ActionHistory, AlertStatus, ClusterReader


class Outcome(StrEnum):
    """Every way an incident can be decided; the `verdict` of the `plan --json` contract."""

    EXECUTE = "execute"
    APPROVE = "approve"
    DENY = "deny"
    ESCALATE = "escalate"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Evaluation:
    """Everything decided about one incident, and why."""

    incident: Incident
    plan: PlanResult
    outcome: Outcome
    reasons: tuple[str, ...]
    proposal: Proposal | None = None
    facts: Facts | None = None
    risk: RiskScore | None = None
    decision: Decision | None = None

    @property
    def shadow(self) -> bool:
        return bool(self.decision and self.decision.shadow)

    def as_json(self) -> dict[str, Any]:
        """The object `scutum plan --json` prints for one alert (DESIGN.md §8)."""
        proposal = self.proposal
        return {
            "incident": incident_json(self.incident),
            "proposal": (
                {"action": proposal.action.value, "params": proposal.params.model_dump(mode="json")}
                if proposal
                else None
            ),
            "escalation": self.plan.escalation,
            "risk": self.risk.as_json() if self.risk else None,
            "verdict": self.outcome.value,
            "reasons": list(self.reasons),
        }


def incident_json(incident: Incident) -> dict[str, Any]:
    """The incident as plain JSON: id, target, alerts, times."""
    target = incident.target
    return {
        "id": incident.id,
        "target": (
            {"kind": target.kind, "namespace": target.namespace, "name": target.name} if target is not None else None
        ),
        "alerts": list(incident.alert_names),
        "fingerprints": list(incident.alerts),
        "started_at": incident.started_at.isoformat(),
        "state": incident.state.value,
    }


def target_text(target: TargetRef) -> str:
    return f"{target.kind} {target.namespace}/{target.name}" if target.namespace else f"{target.kind} {target.name}"


def premises_of(incident: Incident) -> tuple[AlertPremise, ...]:
    """What the incident's alerts claim about the cluster, one premise per distinct claim."""
    found = (premise_of(alert.name, alert.labels) for alert in incident.alerts.values())
    return tuple(dict.fromkeys(p for p in found if p is not None))


class NoHistory:
    """An empty history, for one-shot planning without a store."""

    def action_times(
        self, *, since: datetime, target: TargetRef | None = None, namespace: str | None = None
    ) -> Sequence[datetime]:
        return ()

    def open_incidents(self) -> int:
        return 0

    def kill_switch_engaged(self) -> bool:
        return False


class ExcludingClaim:
    """A history that leaves out one claim time (the execution asking)."""

    def __init__(self, inner: ActionHistory, claimed_at: datetime) -> None:
        self._inner = inner
        self._claimed_at = claimed_at

    def action_times(
        self, *, since: datetime, target: TargetRef | None = None, namespace: str | None = None
    ) -> Sequence[datetime]:
        times = list(self._inner.action_times(since=since, target=target, namespace=namespace))
        if self._claimed_at in times:
            times.remove(self._claimed_at)
        return times

    def open_incidents(self) -> int:
        return self._inner.open_incidents()

    def kill_switch_engaged(self) -> bool:
        return self._inner.kill_switch_engaged()


class UnknownAlerts:
    """No alert source to ask (an undo, or an execution resumed after a restart)."""

    def is_firing(self, fingerprint: str) -> bool | None:
        return None


class FiringFromIncident:
    """Alert status as the incident last saw it: firing unless resolved."""

    def __init__(self, incident: Incident, now: datetime) -> None:
        self._incident = incident
        self._now = now

    def is_firing(self, fingerprint: str) -> bool | None:
        alert = self._incident.alerts.get(fingerprint)
        return None if alert is None else alert.is_active(self._now)


@dataclass
class Evaluator:
    """Plans and scores incidents against one cluster view, history and policy."""

    planner: Planner
    reader: ClusterReader
    history: ActionHistory
    risk_settings: RiskSettings
    policy: PolicySettings
    snapshots: SnapshotSource | None = None
    alert_status: Callable[[Incident, datetime], AlertStatus] = FiringFromIncident
    live: ClusterReader | None = None
    """Where re-validation reads right before acting: the API server itself, not the watch cache,
    so an action is never taken on facts a lagging cache still shows."""
    limits: ActionLimits = field(default_factory=ActionLimits)
    """The operator's caps, judged by the actions' preconditions (the executor's context holds the same)."""
    grants: GrantSource | None = None
    """Promotions operators applied (`scutum policy promote`); None: every approval stays one."""
    two_approver_min_risk: float | None = None
    """The two-approver band now (approvals settings): no promotion reaches into it."""

    def evaluate(self, incident: Incident, *, now: datetime) -> Evaluation:
        """Decide one incident. Never raises for what a planner or an alert got wrong."""
        plan = self.planner.plan(incident, now=now)
        decision = plan.decision
        if isinstance(decision, Ignore):
            return Evaluation(incident, plan, Outcome.IGNORE, (decision.reason,))
        if isinstance(decision, Escalation):
            return Evaluation(incident, plan, Outcome.ESCALATE, (decision.reason,))
        return self.score(incident, plan, decision, now=now)

    def score(self, incident: Incident, plan: PlanResult, proposal: Proposal, *, now: datetime) -> Evaluation:
        """Probe the cluster for `proposal` and run risk and policy on what was read."""
        if not proposal.premises:
            proposal = replace(proposal, premises=premises_of(incident))
        facts = self.probe(proposal, incident, now=now)
        risk, verdict = self.assess(proposal, facts, now=now)
        outcome = Outcome(verdict.verdict.value)
        return Evaluation(incident, plan, outcome, verdict.rules, proposal, facts, risk, verdict)

    def probe(
        self,
        proposal: Proposal,
        incident: Incident | None,
        *,
        now: datetime,
        history: ActionHistory | None = None,
        reader: ClusterReader | None = None,
    ) -> Facts:
        return probe(
            proposal,
            reader=reader or self.reader,
            history=history or self.history,
            alerts=self.alert_status(incident, now) if incident else UnknownAlerts(),
            now=now,
            snapshots=self.snapshots,
        )

    def rescore(
        self, proposal: Proposal, incident: Incident | None, *, now: datetime, exclude_claim: datetime | None = None
    ) -> tuple[RiskScore, Decision]:
        """Probe again and score again: what the executor does right before acting.

        `exclude_claim` is the claim time of the execution being re-validated: its own claim
        must not count as a recent action on the target (it would veto itself by cooldown).
        """
        history = ExcludingClaim(self.history, exclude_claim) if exclude_claim else self.history
        facts = self.probe(proposal, incident, now=now, history=history, reader=self.live or self.reader)
        return self.assess(proposal, facts, now=now)

    def assess(self, proposal: Proposal, facts: Facts, *, now: datetime) -> tuple[RiskScore, Decision]:
        """Score and decide, then apply the case's earned autonomy (risk.autonomy.apply_grant)."""
        risk, decision = assess(proposal, facts, self.risk_settings, self.policy, now=now, limits=self.limits)
        return risk, apply_grant(proposal, decision, self.grants, two_approver_min_risk=self.two_approver_min_risk)
