"""The incident state machine in the store: the table is enforced, and a HANDLING incident is
settled from its own requests and executions."""

from __future__ import annotations

import pytest

from agent.store import ExecutionState, IllegalTransition, IncidentStatus, IncidentWork, Store
from approvals.model import ApprovalState
from approvals.queue import IllegalApprovalTransition, sources_of
from tests.agent.conftest import FakeClock

S = IncidentStatus


def test_the_repository_refuses_a_move_the_table_does_not_allow(store: Store, clock: FakeClock) -> None:
    incident = store.incidents.open("fp", alerts=[], started_at=clock.now)
    store.incidents.transition(incident.id, S.HANDLING)

    with pytest.raises(IllegalTransition, match="handling -> open"):
        store.incidents.transition(incident.id, S.OPEN)
    with pytest.raises(IllegalTransition):
        store.incidents.transition(incident.id, S.RESOLVED)  # its action in hand is not dropped
    with pytest.raises(KeyError):
        store.incidents.transition("no-such-incident", S.OPEN)

    assert store.incidents.transition(incident.id, S.HANDLING).status is S.HANDLING  # staying is a no-op
    verified = store.incidents.transition(incident.id, S.VERIFIED)
    assert verified.status is S.VERIFIED and verified.resolved_at == clock.now
    assert store.history.open_incidents() == 0


def test_allowed_from_narrows_a_move(store: Store, clock: FakeClock) -> None:
    incident = store.incidents.open("fp", alerts=[], started_at=clock.now)
    with pytest.raises(IllegalTransition):
        store.incidents.transition(incident.id, S.ESCALATED, allowed_from=frozenset({S.HANDLING}))
    assert store.incidents.get(incident.id).status is S.OPEN  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        (IncidentWork(), None),
        (IncidentWork(requests=(ApprovalState.PENDING,)), None),
        (IncidentWork(executions=(ExecutionState.RUNNING,)), None),
        (IncidentWork(executions=(ExecutionState.SUCCEEDED,)), S.VERIFIED),
        (IncidentWork((ApprovalState.SUCCEEDED,), (ExecutionState.SUCCEEDED,)), S.VERIFIED),
        (IncidentWork(executions=(ExecutionState.FAILED,)), S.ESCALATED),
        (IncidentWork(executions=(ExecutionState.REFUSED,)), S.ESCALATED),
        (IncidentWork(requests=(ApprovalState.REJECTED,)), S.ESCALATED),
        (IncidentWork(requests=(ApprovalState.EXPIRED,)), S.ESCALATED),
        (IncidentWork((ApprovalState.SUPERSEDED, ApprovalState.PENDING), (ExecutionState.REFUSED,)), None),
    ],
)
def test_a_handling_incident_settles_only_when_its_work_ended(
    work: IncidentWork, expected: IncidentStatus | None
) -> None:
    assert work.settled_status() is expected


def test_nothing_moves_a_request_back_to_pending() -> None:
    with pytest.raises(IllegalApprovalTransition):
        sources_of(ApprovalState.PENDING)
    assert sources_of(ApprovalState.SUPERSEDED) == {ApprovalState.APPROVED, ApprovalState.EXECUTING}
