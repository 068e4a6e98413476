"""Proposals read back from the store: what the executor re-validates after a restart, on a new
leader, or for a request approved anywhere, with nothing kept in memory between decision and run.

A request or an execution names its incident; the stored proposal gives the planner's claims,
and the stored incident its alerts' fingerprints and their last known state, so re-scoring sees
exactly what the decision saw instead of "alert state unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.registry import parse_invocation
from agent.intake import Incident
from agent.lifecycle import incident_from_record
from agent.store import Execution, IncidentStatus, ProposalRecord, Store
from approvals.model import ApprovalRequest
from risk.model import Proposal

CLOSED = frozenset({IncidentStatus.RESOLVED})
"""An incident whose alerts resolved: its alerts no longer fire."""


@dataclass(frozen=True)
class StoredProposal:
    """A proposal rebuilt from the store, with its incident as the intake would hold it."""

    proposal: Proposal
    incident: Incident | None
    proposal_id: str | None


class StoredProposals:
    """Rebuilds proposals for approval requests and executions from the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def for_request(self, request: ApprovalRequest) -> StoredProposal:
        """The proposal an approval request is about."""
        return self._rebuild(
            request.incident_id,
            action=request.action.value,
            params=request.params,
            requested_by=request.requested_by,
            fallback_start=request.created_at,
        )

    def for_execution(self, execution: Execution) -> StoredProposal:
        """The proposal an execution runs."""
        return self._rebuild(
            execution.incident_id,
            action=execution.action,
            params=execution.params,
            requested_by=None,
            fallback_start=execution.created_at,
            proposal_id=execution.proposal_id,
        )

    def _rebuild(
        self,
        incident_id: str | None,
        *,
        action: str,
        params: dict[str, Any],
        requested_by: str | None,
        fallback_start: Any,
        proposal_id: str | None = None,
    ) -> StoredProposal:
        registered, parsed = parse_invocation(action, params)
        record = self._store.incidents.get(incident_id) if incident_id else None
        incident = incident_from_record(record) if record is not None else None
        if incident is not None and record is not None and record.status in CLOSED:
            incident.alerts = {f: a.resolved() for f, a in incident.alerts.items()}
        stored = self._matching(incident_id, action=action, params=parsed.model_dump(mode="json"), wanted=proposal_id)
        proposal = Proposal(
            registered.name,
            parsed,
            registered.target(parsed),
            incident.started_at if incident else fallback_start,
            claims=dict(stored.claims) if stored else {},
            alert_names=incident.alert_names if incident else (),
            alert_fingerprints=tuple(incident.alerts) if incident else (),
            requested_by=requested_by,
        )
        return StoredProposal(proposal, incident, stored.id if stored else proposal_id)

    def _matching(
        self, incident_id: str | None, *, action: str, params: dict[str, Any], wanted: str | None
    ) -> ProposalRecord | None:
        """The incident's newest stored proposal of this action and params (an undo has none)."""
        if incident_id is None:
            return None
        for record in reversed(self._store.incidents.proposals(incident_id)):
            if record.id == wanted or (wanted is None and record.action == action and record.params == params):
                return record
        return None
