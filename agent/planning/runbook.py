"""The runbook planner (the default): alert matchers → one registry action with templated params.

Rules are tried in order against each of the incident's alerts; the first rule whose matcher
fits, whose target resolves and whose guards hold produces the proposal. Params are validated
through the registry, so an action or params outside it become an escalation, never an error.
Cluster read failures other than "not found" propagate: the pipeline retries them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from actions.base import Action, ActionParams
from actions.registry import UnknownActionError, parse_invocation
from agent.intake import Alert, Incident, IncidentState
from agent.planning.base import Escalation, Ignore, PlanResult
from agent.planning.changes import ChangeHistory
from agent.planning.guards import GuardFailed, check_guards
from agent.planning.runbook_schema import Rule, Runbook, RunbookError, load_runbook, parse_runbook
from agent.planning.targets import (
    ClusterReader,
    ResolvedTarget,
    TargetResolver,
    UnresolvedTarget,
    target_from_labels,
)
from agent.planning.templates import TemplateError, render
from risk.model import Proposal

__all__ = ["RunbookError", "RunbookPlanner", "load_runbook", "parse_runbook"]

ParseInvocation = Callable[[str, Mapping[str, Any]], tuple[Action[Any], ActionParams]]
TRACE_ALERTS = 10
"""Alerts recorded per trace (an incident holds more under a storm)."""


class RuleSkipped(Exception):
    """This rule does not apply to this alert; the reason goes to the trace."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class RunbookPlanner:
    """Plans from a runbook; reads the cluster only to resolve targets and check guards."""

    name = "runbook"

    def __init__(
        self,
        reader: ClusterReader,
        runbook: Runbook | None = None,
        *,
        history: ChangeHistory | None = None,
        parse: ParseInvocation = parse_invocation,
    ) -> None:
        self.runbook = runbook if runbook is not None else load_runbook()
        self._reader = reader
        self._resolver = TargetResolver(reader)
        self._parse = parse
        self._history = history

    def hints(self, alert_name: str) -> list[str]:
        """The runbook's hints for an alert name (for the LLM planner's prompt)."""
        return [r.hint for r in self.runbook.rules if r.hint and alert_name in r.match.alertname]

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        """A proposal from the first rule that applies, else an escalation saying why none did."""
        trace: dict[str, Any] = {
            "planner": self.name,
            "incident": {"id": incident.id, "started_at": incident.started_at, "group_key": incident.group_key},
            "alerts": [
                {"name": a.name, "fingerprint": a.fingerprint, "labels": a.labels}
                for a in list(incident.alerts.values())[:TRACE_ALERTS]
            ],
            "rules": [],
        }
        if incident.state is IncidentState.CLOSED or not incident.alerts:
            return self._done(trace, Ignore("the incident is closed: its alerts resolved or its fix was verified"))
        tried: list[str] = []
        for rule in self.runbook.rules:
            for alert in incident.alerts.values():
                if not rule.match.matches(alert.name, alert.labels):
                    continue
                try:
                    proposal, facts = self._apply(rule, alert, incident, now)
                except RuleSkipped as skipped:
                    trace["rules"].append({"rule": rule.name, "alert": alert.fingerprint, "outcome": str(skipped)})
                    tried.append(f"{rule.name}: {skipped}")
                    break
                trace["rules"].append({"rule": rule.name, "alert": alert.fingerprint, "outcome": "proposed"})
                trace["facts"] = facts
                return self._done(trace, proposal)
        if tried:
            reason = "runbook rules matched but none applied: " + "; ".join(tried)
        else:
            reason = f"no runbook rule for {', '.join(incident.alert_names)}"
        return self._done(trace, Escalation(reason))

    def _done(self, trace: dict[str, Any], decision: Proposal | Escalation | Ignore) -> PlanResult:
        if isinstance(decision, Proposal):
            trace["decision"] = {
                "proposal": {"action": decision.action.value, "params": decision.params.model_dump(mode="json")},
                "target": str(decision.target),
            }
        else:
            trace["decision"] = {type(decision).__name__.lower(): decision.reason}
        return PlanResult(decision, _jsonable(trace))

    def _apply(self, rule: Rule, alert: Alert, incident: Incident, now: datetime) -> tuple[Proposal, dict[str, Any]]:
        before = incident.started_at - rule.pending_period - rule.before_margin
        try:
            target = self._resolve(rule, alert)
            context: dict[str, Any] = {
                "labels": alert.labels,
                "annotations": alert.annotations,
                "alert": {"name": alert.name, "fingerprint": alert.fingerprint, "starts_at": alert.starts_at},
                "incident": {"id": incident.id, "started_at": incident.started_at, "before": before},
            }
            facts = check_guards(
                rule.guards, target, context, reader=self._reader, labels=alert.labels, now=now, history=self._history
            )
            params = render(rule.params, context)
            action, typed = self._parse(rule.action, params)
        except (UnresolvedTarget, GuardFailed) as exc:
            raise RuleSkipped(str(exc)) from None
        except TemplateError as exc:
            raise RuleSkipped(f"params: {exc}") from None
        except UnknownActionError as exc:
            raise RuleSkipped(str(exc)) from None
        except ValueError as exc:  # pydantic's ValidationError: params outside the action's bounds
            raise RuleSkipped(f"params rejected by {rule.action}: {exc}".replace("\n", " ")) from None
        # The runbook makes no claims: what its guards read goes to the trace, and the risk
        # probes read the cluster again for themselves.
        proposal = Proposal(
            action=action.name,
            params=typed,
            target=action.target(typed),
            incident_started_at=incident.started_at,
            alert_names=incident.alert_names,
            alert_fingerprints=tuple(incident.alerts),
        )
        return proposal, {"rule": rule.name, "resolved_via": list(target.chain), **facts}

    def _resolve(self, rule: Rule, alert: Alert) -> ResolvedTarget:
        ref = target_from_labels(alert.labels, label=rule.target.label)
        if ref is None:
            wanted = f"a {rule.target.label!r} label" if rule.target.label else "an object label"
            raise UnresolvedTarget(f"the alert has no {wanted} naming its target")
        if rule.target.follow_owners:
            target = self._resolver.resolve(ref, labels=alert.labels)
        else:
            obj = self._reader.try_get(ref.kind, ref.name, ref.namespace)
            target = ResolvedTarget(ref.kind, ref.name, ref.namespace, obj, chain=(ref.key(),), labels=alert.labels)
        if rule.target.follow_owners and target.kind == "HorizontalPodAutoscaler" and target.obj is not None:
            target = self._resolver.through_hpa(target)
        if rule.target.service_backend and target.kind == "Service":
            target = self._resolver.through_service(target)
        if rule.target.kinds and target.kind not in rule.target.kinds:
            raise UnresolvedTarget(f"target resolved to {target.kind}, the rule acts on {'/'.join(rule.target.kinds)}")
        return target
