"""The agent's edge, built from settings: the refusal log, the one decision queue, the target
triage, and escalation notices within a budget. `build_agent` wires them; the HTTP app and the
Slack handlers use them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from agent.audit import AuditKind, AuditLog
from agent.intake import Incident
from agent.metrics import Metrics
from agent.notice_budget import NoticeBudget
from agent.refusals import RefusalLog
from agent.settings import Settings
from agent.triage import TargetTriage
from agent.work import DecisionQueue, QueueLimits
from approvals.slack import SlackChannel
from risk.cache import DEFAULT_KINDS, ClusterCache

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Edge:
    """What stands between the endpoints and the deciding workers."""

    refusals: RefusalLog
    queue: DecisionQueue
    triage: TargetTriage | None


def build_edge(
    settings: Settings, *, audit: AuditLog, metrics: Metrics, clock: Callable[[], datetime], cache: ClusterCache | None
) -> Edge:
    """The refusal log, the decision queue and (with a watch cache) the target triage."""
    refusals = RefusalLog(
        audit,
        clock=clock,
        interval=timedelta(seconds=settings.http.refusal_summary_seconds),
        count=lambda endpoint, reason: metrics.refusals.labels(endpoint=endpoint).inc(),
    )
    q = settings.queue
    limits = QueueLimits(
        alerts=q.alerts_capacity,
        doubtful=q.doubtful_capacity,
        clicks=q.clicks_capacity,
        slow_job_seconds=q.slow_job_seconds,
    )
    queue = DecisionQueue(limits, on_failure=lambda label, exc: _record_job_failure(audit, label, exc))
    triage = TargetTriage(cache, cached_kinds=DEFAULT_KINDS) if cache is not None else None
    return Edge(refusals, queue, triage)


def refusal_audit(refusals: RefusalLog) -> Callable[[str, dict[str, Any]], None]:
    """The approvals layer's sink for unauthenticated refusals: aggregated per source and reason."""

    def sink(event: str, details: dict[str, Any]) -> None:
        reason = str(details.get("reason", event))
        extra = {k: v for k, v in details.items() if k != "reason"}
        kind = AuditKind.SLACK_REQUEST_REJECTED
        refusals.refuse(endpoint="/slack/events", source="slack", reason=reason, details=extra, kind=kind)

    return sink


def _record_job_failure(audit: AuditLog, label: str, exc: BaseException) -> None:
    audit.append(AuditKind.ERROR, actor="scutum", payload={"job": label, "error": repr(exc)[:500]})


def escalation_notice(slack: SlackChannel | None, budget: NoticeBudget) -> Callable[[Incident, str], None]:
    """Escalations are logged (and audited by the pipeline), and posted to the approvals
    channel when Slack is on, within a budget per minute so a flood is not a flood of posts."""

    def escalate(incident: Incident, reason: str) -> None:
        log.warning("incident_escalated", incident=incident.id, reason=reason)
        if slack is None:
            return
        held = budget.take()
        if held is None:
            return
        target = incident.target
        where = f" on {target.kind} {target.namespace or ''}/{target.name}" if target else ""
        more = f" ({held} more escalations were not posted; see the audit log)" if held else ""
        slack.post_notice(f"Escalated: {', '.join(incident.alert_names)}{where}: {reason}{more}")

    return escalate
