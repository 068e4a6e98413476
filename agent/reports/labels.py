"""Outcome labels from the store: every decision since a moment as a `risk.track.PastDecision`.

The store keeps no label column: each ending is derived from the rows other modules keep, so
it is always as current as the store (an Undo next week relabels last week's action). The rules
are `risk.track.ending_of`; this module only gathers its facts.

Windows (plain constants; each is stated in docs/research.md):
- OVERRIDE_WINDOW: a change to the action's target by someone else within this long after the
  run labels the run OVERRIDDEN;
- SELF_RESOLVE_WINDOW: an incident on which nothing ran and whose alert resolved within this
  long of starting is SELF_RESOLVED.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.store import DecisionRows, Execution, ExecutionState, Incident, IncidentStatus, ProposalRecord, Store
from approvals.model import ApprovalRequest, ApprovalState, VoteDecision
from risk.track import Call, Ending, HumanCall, PastDecision, RunEnd, auditor_findings, ending_of, parse_execute_max

OVERRIDE_WINDOW = timedelta(hours=1)
SELF_RESOLVE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Windows:
    """How long after the fact a change or a resolution still counts."""

    override: timedelta = OVERRIDE_WINDOW
    self_resolve: timedelta = SELF_RESOLVE_WINDOW


def load_history(store: Store, *, since: datetime | None, windows: Windows | None = None) -> list[PastDecision]:
    """Every decision on incidents started at or after `since`, labelled, oldest first."""
    windows = windows or Windows()
    rows = store.outcomes.since(since)
    requests = [r for r in store.approvals.list() if since is None or r.created_at >= since - timedelta(days=1)]
    gather = _Gatherer(store, rows, requests, windows)
    found: list[PastDecision] = []
    for incident in rows.incidents:
        found.extend(gather.decisions_of(incident))
    return sorted(found, key=lambda d: d.at)


class _Gatherer:
    def __init__(self, store: Store, rows: DecisionRows, requests: Sequence[ApprovalRequest], windows: Windows) -> None:
        self._store = store
        self._windows = windows
        self._proposals: dict[str, list[ProposalRecord]] = defaultdict(list)
        for proposal in rows.proposals:
            self._proposals[proposal.incident_id].append(proposal)
        self._decisions = {d.proposal_id: d for d in rows.decisions}  # sorted: the last one wins
        self._runs = {e.proposal_id: e for e in rows.executions if e.proposal_id}
        self._by_target: dict[tuple[str, str | None, str], list[Execution]] = defaultdict(list)
        for execution in rows.executions:
            self._by_target[(execution.target_kind, execution.target_namespace, execution.target_name)].append(
                execution
            )
        self._requests: dict[str, list[ApprovalRequest]] = defaultdict(list)
        for request in requests:
            self._requests[request.incident_id].append(request)
        self._reasons = {a.incident_id: str(a.payload.get("reason", "")) for a in rows.escalations if a.incident_id}
        self._reverted = rows.reverted_by_owner

    def decisions_of(self, incident: Incident) -> list[PastDecision]:
        resolved = (
            (incident.resolved_at - incident.started_at).total_seconds() if incident.resolved_at is not None else None
        )
        proposals = self._proposals.get(incident.id, [])
        if not proposals:
            # An escalation leaves no proposal, only its audit record; the incident may since
            # have resolved (status RESOLVED), so the record, not the status, says it escalated.
            escalated = incident.id in self._reasons or incident.status is IncidentStatus.ESCALATED
            return [self._escalation(incident, resolved)] if escalated else []
        found = []
        for proposal in proposals:
            decision = self._decisions.get(proposal.id)
            if decision is None:
                continue
            human = self._human(incident.id, proposal)
            run = self._runs.get(proposal.id)
            if incident.status is IncidentStatus.JOINED and run is None and human is None:
                continue  # another incident's action covered this target
            state_validity = decision.components.get("state_validity") or {}
            found.append(
                PastDecision(
                    at=decision.created_at,
                    incident_id=incident.id,
                    alert_name=incident.alert_name,
                    namespace=proposal.target_namespace,
                    action=proposal.action,
                    planner=proposal.planner,
                    verdict=decision.verdict,
                    risk=decision.risk_total,
                    components={k: float(v.get("score", 0.0)) for k, v in decision.components.items()},
                    shadow=decision.shadow,
                    execute_max=self._threshold(incident.id, proposal) or parse_execute_max(decision.rules),
                    human=human,
                    escalation_reason=self._reasons.get(incident.id, ""),
                    claims_made=len(proposal.claims),
                    claims_disputed=auditor_findings(list(state_validity.get("reasons") or [])),
                    resolved_after_seconds=resolved,
                    people_acted=self._people_acted(proposal, decision.created_at) if decision.shadow else None,
                    ending=self._ending(
                        incident,
                        verdict=decision.verdict,
                        shadow=decision.shadow,
                        human=human,
                        run=run,
                        resolved=resolved,
                    ),
                )
            )
        return found

    def _escalation(self, incident: Incident, resolved: float | None) -> PastDecision:
        ending = ending_of(
            verdict="escalate",
            shadow=False,
            human=None,
            run=None,
            undone=False,
            overridden=False,
            resolved_after_seconds=resolved,
            self_resolve_seconds=self._windows.self_resolve.total_seconds(),
        )
        return PastDecision(
            at=incident.started_at,
            incident_id=incident.id,
            alert_name=incident.alert_name,
            namespace=incident.namespace,
            verdict="escalate",
            ending=ending,
            escalation_reason=self._reasons.get(incident.id, ""),
            resolved_after_seconds=resolved,
        )

    def _ending(
        self,
        incident: Incident,
        *,
        verdict: str,
        shadow: bool,
        human: HumanCall | None,
        run: Execution | None,
        resolved: float | None,
    ) -> Ending:
        undone = run is not None and self._undone(incident.id, run)
        reverted = run is not None and run.id in self._reverted
        overridden = run is not None and not undone and not reverted and self._overridden(run)
        return ending_of(
            verdict=verdict,
            shadow=shadow,
            human=human,
            run=_run_end(run) if run is not None else None,
            undone=undone,
            reverted_by_owner=reverted,
            overridden=overridden,
            resolved_after_seconds=resolved,
            self_resolve_seconds=self._windows.self_resolve.total_seconds(),
        )

    def _own_requests(self, incident_id: str, proposal: ProposalRecord) -> list[ApprovalRequest]:
        return [
            r
            for r in self._requests.get(incident_id, [])
            if r.requested_by is None
            and r.action.value == proposal.action
            and (r.target.kind, r.target.namespace, r.target.name)
            == (proposal.target_kind, proposal.target_namespace, proposal.target_name)
        ]

    def _human(self, incident_id: str, proposal: ProposalRecord) -> HumanCall | None:
        requests = self._own_requests(incident_id, proposal)
        final = next((r for r in requests if r.state is not ApprovalState.SUPERSEDED), None)
        return human_call(final or requests[-1]) if requests else None

    def _threshold(self, incident_id: str, proposal: ProposalRecord) -> float | None:
        requests = self._own_requests(incident_id, proposal)
        return requests[0].threshold if requests else None

    def _undone(self, incident_id: str, run: Execution) -> bool:
        finished = run.finished_at or run.created_at
        return any(
            r.requested_by is not None and r.state is ApprovalState.SUCCEEDED and r.created_at >= finished
            for r in self._requests.get(incident_id, [])
        )

    def _people_acted(self, proposal: ProposalRecord, at: datetime) -> bool:
        """Shadow mode: did anyone change the proposed target within the window after the decision?"""
        return bool(
            self._store.outcomes.changes_after(
                kind=proposal.target_kind,
                namespace=proposal.target_namespace,
                name=proposal.target_name,
                after=at,
                until=at + self._windows.override,
            )
        )

    def _overridden(self, run: Execution) -> bool:
        """A version of the target observed after the run's own write, within the window, at a
        time no other Scutum run on the target explains."""
        started = run.claimed_at or run.created_at
        finished = run.finished_at or started
        changes = self._store.outcomes.changes_after(
            kind=run.target_kind,
            namespace=run.target_namespace,
            name=run.target_name,
            after=started,
            until=finished + self._windows.override,
        )
        ours = [
            (e.claimed_at or e.created_at, (e.finished_at or e.created_at) + timedelta(minutes=2))
            for e in self._by_target[(run.target_kind, run.target_namespace, run.target_name)]
            if e.id != run.id
        ]
        others = [at for at in changes[1:] if not any(lo <= at <= hi for lo, hi in ours)]
        return bool(others)


def _run_end(run: Execution) -> RunEnd:
    match run.state:
        case ExecutionState.SUCCEEDED:
            return RunEnd.SUCCEEDED
        case ExecutionState.FAILED:
            return RunEnd.FAILED
        case ExecutionState.REFUSED:
            return RunEnd.REFUSED
        case _:
            return RunEnd.UNFINISHED


def human_call(request: ApprovalRequest) -> HumanCall:
    """The people's decision on one request: the call, by whom, and seconds to the deciding vote."""
    match request.state:
        case ApprovalState.PENDING:
            return HumanCall(Call.PENDING)
        case ApprovalState.EXPIRED:
            return HumanCall(Call.EXPIRED, seconds=(request.deadline - request.created_at).total_seconds())
        case ApprovalState.REJECTED:
            vote = next((v for v in request.votes if v.decision is VoteDecision.REJECT), None)
            seconds = (vote.at - request.created_at).total_seconds() if vote else None
            return HumanCall(Call.REJECTED, by=tuple(request.rejecters()), seconds=seconds)
    approvers: list[str] = []
    decided_at: datetime | None = None
    for vote in request.votes:
        if vote.decision is VoteDecision.APPROVE and vote.approver not in approvers:
            approvers.append(vote.approver)
            if len(approvers) == request.required_approvals:
                decided_at = vote.at
    seconds = (decided_at - request.created_at).total_seconds() if decided_at else None
    return HumanCall(Call.APPROVED, by=tuple(approvers), seconds=seconds)
