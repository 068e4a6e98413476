"""Pure functions from stored records to what a page shows: no I/O, no HTML (templates escape).

The timeline is the incident's audit records in chain order, each told in one line, so every
step on the page links to the record that proves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.store import AuditRecord, DecisionRecord, IncidentStatus, ProposalRecord
from agent.store.browse import IncidentSummary

PROMPT_KEYS = frozenset({"request", "response", "messages", "prompt", "system_prompt"})
"""Payload keys that hold what was sent to or read from a language model."""
HIDDEN = "(hidden: prompts and model answers are shown to signed-in users only)"
COMPONENT_LABELS = {
    "blast_radius": "Blast radius",
    "reversibility": "Reversibility",
    "state_validity": "State validity",
    "operational_pressure": "Operational pressure",
}
BAR_WIDTH = 300
"""Pixels of the bar chart's full scale (a score of 1.0)."""
VERDICT_OF_STATUS = {IncidentStatus.ESCALATED: "escalate", IncidentStatus.IGNORED: "ignore"}


@dataclass(frozen=True)
class Bar:
    """One risk component as a bar: its score, its width on the chart, and why."""

    key: str
    label: str
    score: float
    width: int
    band: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One line of an incident's timeline, with the audit record behind it."""

    seq: int
    at: datetime
    kind: str
    title: str
    detail: str


@dataclass(frozen=True)
class ClaimCheck:
    """A planner's claim and what the auditor found about it."""

    key: str
    claimed: str
    finding: str
    held: bool


@dataclass(frozen=True)
class Row:
    """One incident in the list."""

    id: str
    started_at: datetime
    status: str
    alerts: str
    target: str
    planner: str
    proposal: str
    verdict: str
    risk: float | None
    cluster: str = "default"


def band(score: float) -> str:
    """A CSS class for a score: low, mid or high."""
    return "high" if score >= 0.7 else "mid" if score >= 0.3 else "low"


def risk_bars(components: Mapping[str, Any]) -> list[Bar]:
    """The decomposition as bars, in the order the risk model names the components."""
    bars = []
    for key, label in COMPONENT_LABELS.items():
        part = components.get(key)
        if not isinstance(part, Mapping):
            continue
        score = min(1.0, max(0.0, float(part.get("score", 0.0))))
        reasons = tuple(str(r) for r in part.get("reasons", ()))
        bars.append(Bar(key, label, score, round(score * BAR_WIDTH), band(score), reasons))
    return bars


def alert_names(alerts: Sequence[Mapping[str, Any]]) -> str:
    """The incident's alert names, comma separated."""
    return ", ".join(sorted({str(a.get("name", "?")) for a in alerts})) or "-"


def target_of(proposal: ProposalRecord | None, alerts: Sequence[Mapping[str, Any]]) -> str:
    """The proposal's target, or what the first alert's labels point at."""
    if proposal is not None:
        where = f"{proposal.target_namespace}/" if proposal.target_namespace else ""
        return f"{proposal.target_kind} {where}{proposal.target_name}"
    labels = alerts[0].get("labels", {}) if alerts else {}
    if not isinstance(labels, Mapping):
        return "-"
    for key in ("deployment", "statefulset", "daemonset", "pod", "node", "cronjob", "configmap", "service"):
        if key in labels:
            namespace = labels.get("namespace")
            return f"{key} {namespace + '/' if namespace else ''}{labels[key]}"
    return str(labels.get("namespace", "-"))


def verdict_of(status: IncidentStatus, decision: DecisionRecord | None) -> str:
    """The latest decision's verdict, else what the status says (escalate, ignore), else '-'."""
    if decision is not None:
        return decision.verdict
    return VERDICT_OF_STATUS.get(status, "-")


def row(summary: IncidentSummary) -> Row:
    """One incident as a list row."""
    incident, proposal, decision = summary.incident, summary.proposal, summary.decision
    return Row(
        id=incident.id,
        started_at=incident.started_at,
        status=incident.status.value,
        alerts=alert_names(incident.alerts),
        target=target_of(proposal, incident.alerts),
        planner=proposal.planner if proposal and proposal.planner else "-",
        proposal=proposal.action if proposal else "-",
        verdict=verdict_of(incident.status, decision),
        risk=decision.risk_total if decision else None,
        cluster=incident.cluster,
    )


def claim_checks(claims: Mapping[str, Any], components: Mapping[str, Any]) -> list[ClaimCheck]:
    """Each claim next to the auditor's finding (its state-validity reason), or 'confirmed'."""
    part = components.get("state_validity")
    reasons = [str(r) for r in part.get("reasons", ())] if isinstance(part, Mapping) else []
    checks = []
    for key, claimed in sorted(claims.items()):
        finding = next((r for r in reasons if f"claim {key}" in r or f"claimed {key}=" in r), "")
        checks.append(ClaimCheck(key, repr(claimed), finding or "confirmed by the probes", held=not finding))
    return checks


def hide_prompts(value: Any, *, show: bool) -> Any:
    """`value` with every prompt-bearing key replaced by a notice, unless `show`."""
    if show:
        return value
    if isinstance(value, Mapping):
        return {k: HIDDEN if k in PROMPT_KEYS else hide_prompts(v, show=False) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_prompts(v, show=False) for v in value]
    return value


def timeline(records: Sequence[AuditRecord]) -> list[Step]:
    """The incident's audit records as timeline steps, in chain order."""
    return [Step(r.seq, r.ts, r.kind, *_tell(r.kind, r.payload, r.actor)) for r in records]


def _tell_incident(payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    if payload.get("event") == "resolved":
        return "Resolved", "the alerts stopped firing"
    return "Alert", f"{', '.join(str(a) for a in payload.get('alerts', []))} opened an incident"


def _tell_requested(payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    return "Approval requested", f"{payload.get('required_approvals', 1)} approver(s), until {payload.get('deadline')}"


def _tell_execution(payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    return "Action", f"{payload.get('action', '?')}: {payload.get('detail') or payload.get('error') or 'done'}"


def _tell_verification(payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    return "Verification", f"{'ok' if payload.get('ok') else 'not verified'}: {payload.get('detail', '')}"


def _tell(kind: str, payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    """(title, one-line detail) of one audit record."""
    teller = _TELLERS.get(kind)
    if teller is None:
        return kind.replace("_", " ").capitalize(), str(payload.get("event", ""))
    return teller(payload, actor)


def _tell_decision(payload: Mapping[str, Any]) -> tuple[str, str]:
    if "joined" in payload:
        return "Joined", str(payload.get("reason", ""))
    rules = "; ".join(str(r) for r in payload.get("rules", []))
    return f"Verdict: {payload.get('verdict', '?')}", rules


def _tell_vote(payload: Mapping[str, Any], actor: str) -> tuple[str, str]:
    event = str(payload.get("event", "approval_vote"))
    titles = {
        "approval_vote_recorded": "Vote",
        "approval_vote_refused": "Vote refused",
        "approval_approved": "Approved",
        "approval_rejected": "Rejected",
        "approval_executing": "Executing",
        "approval_succeeded": "Succeeded",
        "approval_failed": "Failed",
        "approval_superseded": "Asked again",
    }
    detail = f"{actor} via {payload.get('channel')}: {payload.get('decision')}" if "decision" in payload else actor
    if payload.get("reason"):
        detail += f" ({payload['reason']})"
    if payload.get("result"):
        detail += f": {payload['result']}"
    return titles.get(event, event.replace("_", " ")), detail


Teller = Callable[[Mapping[str, Any], str], tuple[str, str]]
_TELLERS: dict[str, Teller] = {
    "incident": _tell_incident,
    "llm_exchange": lambda p, a: ("Model exchange", "what the planner sent to the model and read back"),
    "plan": lambda p, a: ("Plan", f"planner {(p.get('trace') or {}).get('planner', '?')}"),
    "facts": lambda p, a: ("Facts", "what the risk probes read from the cluster"),
    "risk": lambda p, a: ("Risk", f"score {float(p.get('score', 0.0)):.2f}"),
    "decision": lambda p, a: _tell_decision(p),
    "approval_requested": _tell_requested,
    "approval_vote": _tell_vote,
    "approval_expired": lambda p, a: ("Approval expired", f"escalated to {p.get('escalated_to') or 'nobody'}"),
    "execution": _tell_execution,
    "verification": _tell_verification,
    "undo_offered": lambda p, a: ("Undo offered", str((p.get("inverse") or {}).get("action", ""))),
    "escalation": lambda p, a: ("Escalated", str(p.get("reason", ""))),
    "error": lambda p, a: ("Error", str(p.get("error", ""))),
}
"""How each kind of audit record is told on the timeline."""


@dataclass(frozen=True)
class Change:
    """One field an action changed: where, from, to."""

    path: str
    before: str
    after: str


MAX_CHANGES = 40


def _flatten(value: Any, prefix: str, into: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", into)
    else:
        into[prefix] = "-" if value is None else str(value)


def changes(outcome: Mapping[str, Any] | None) -> list[Change]:
    """The fields that differ between an outcome's `before` and `after` (the action's diff)."""
    if not outcome or not isinstance(outcome.get("before"), Mapping) or not isinstance(outcome.get("after"), Mapping):
        return []
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    _flatten(outcome["before"], "", before)
    _flatten(outcome["after"], "", after)
    paths = sorted(set(before) | set(after))
    found = [Change(p, before.get(p, "-"), after.get(p, "-")) for p in paths if before.get(p) != after.get(p)]
    return found[:MAX_CHANGES]


def countdown(deadline: datetime, now: datetime) -> str:
    """Time left as '12m 05s', or 'expired'."""
    left = int((deadline - now).total_seconds())
    if left <= 0:
        return "expired"
    hours, rest = divmod(left, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
