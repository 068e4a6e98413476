"""Undo: the inverse of an action that ran becomes a new proposal, scored, gated and sent for
approval like any other. The person who asked for it cannot approve it."""

from __future__ import annotations

from datetime import datetime, timedelta

from actions.registry import parse_invocation
from agent.evaluate import Evaluator
from agent.outcomes import outcome_from
from agent.store import ExecutionState, Store
from approvals.model import ApprovalState
from approvals.queue import ApprovalQueue
from risk.model import Proposal, Verdict
from risk.policy import thresholds_for


def request_undo(
    request_id: str, user: str, *, approvals: ApprovalQueue, store: Store, evaluator: Evaluator, now: datetime
) -> str:
    """Ask for the inverse of what approval request `request_id` ran; returns a sentence for `user`."""
    request = approvals.get(request_id)
    if request is None:
        return "That request no longer exists."
    runs = [
        e
        for e in store.executions.recent(request.created_at - timedelta(days=1))
        if e.incident_id == request.incident_id and e.action == request.action.value and e.outcome
    ]
    if not runs or runs[-1].state is not ExecutionState.SUCCEEDED:
        return "Nothing to undo: the action did not run to completion."
    execution = runs[-1]
    action, params = parse_invocation(execution.action, execution.params)
    inverse = action.inverse(params, outcome_from(execution.outcome or {}))
    if inverse is None:
        return f"{action.name} has no inverse."
    undo_action, undo_params = parse_invocation(inverse.action.value, inverse.params)
    target = undo_action.target(undo_params)
    for waiting in approvals.repository.list(state=ApprovalState.PENDING):
        same_target = (waiting.target.kind, waiting.target.namespace, waiting.target.name) == (
            target.kind,
            target.namespace,
            target.name,
        )
        if same_target and waiting.action is undo_action.name:
            return f"An undo is already waiting for approval ({waiting.id[:8]})."
    proposal = Proposal(undo_action.name, undo_params, target, now, requested_by=user)
    risk, decision = evaluator.rescore(proposal, None, now=now)
    if decision.verdict is Verdict.DENY:
        return "Undo refused by policy: " + "; ".join(decision.rules)
    execute_max, _, _ = thresholds_for(proposal, evaluator.policy)
    fresh = approvals.request(
        proposal,
        risk,
        incident_id=request.incident_id,
        incident_summary=f"Undo of {request.action.value} on {request.target} (asked by {user})",
        threshold=execute_max,
        now=now,
    )
    return f"Undo requested ({fresh.id[:8]}): another approver must approve it."
