"""The SQL approval repository and action history honour the approvals and risk contracts,
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from actions.base import ActionName, TargetRef
from agent.store import IncidentStatus, Store
from approvals.model import ApprovalRepository, ApprovalRequest, ApprovalState, Target, Vote, VoteChannel, VoteDecision
from risk.sources import ActionHistory
from tests.agent.conftest import FakeClock


def _request(clock: FakeClock, request_id: str = "req-1", *, deadline_minutes: int = 15) -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        incident_id="inc-1",
        incident_summary="KubePodCrashLooping in shop/cart",
        action=ActionName.RESTART_WORKLOAD,
        params={"namespace": "shop", "name": "cart"},
        target=Target(kind="Deployment", name="cart", namespace="shop"),
        risk={"score": 0.55, "components": {"blast_radius": {"score": 0.5, "reasons": ["2 of 3"]}}},
        threshold=0.3,
        required_approvals=2,
        requested_by="U0UNDO",
        created_at=clock.now,
        deadline=clock.now + timedelta(minutes=deadline_minutes),
    )


def test_store_satisfies_the_protocols(store: Store) -> None:
    repository: ApprovalRepository = store.approvals
    history: ActionHistory = store.history
    assert repository is not None
    assert history is not None


def test_approval_request_round_trips_with_votes(store: Store, clock: FakeClock) -> None:
    request = _request(clock)
    store.approvals.create(request)
    vote = Vote(approver="U01", decision=VoteDecision.APPROVE, at=clock.now, channel=VoteChannel.SLACK)
    store.approvals.add_vote(request.id, vote)
    store.approvals.add_vote(request.id, vote)
    store.approvals.set_message_ref(request.id, channel="C01", ts="1700000000.000100")

    loaded = store.approvals.get(request.id)

    assert loaded == request.model_copy(
        update={"votes": (vote, vote), "slack_channel": "C01", "slack_ts": "1700000000.000100"}
    )
    assert loaded is not None
    assert loaded.approvers() == ["U01"]
    assert store.approvals.get("missing") is None


def test_duplicate_request_id_is_refused(store: Store, clock: FakeClock) -> None:
    store.approvals.create(_request(clock))
    with pytest.raises(ValueError, match="already exists"):
        store.approvals.create(_request(clock))


def test_transition_is_compare_and_set(store: Store, clock: FakeClock) -> None:
    store.approvals.create(_request(clock))
    pending = [ApprovalState.PENDING]

    assert store.approvals.transition("req-1", pending, ApprovalState.APPROVED, at=clock.now) is True
    assert store.approvals.transition("req-1", pending, ApprovalState.REJECTED, at=clock.now) is False
    assert store.approvals.transition("nope", pending, ApprovalState.APPROVED, at=clock.now) is False
    clock.advance(30)
    done = store.approvals.transition(
        "req-1", [ApprovalState.APPROVED], ApprovalState.EXECUTING, at=clock.now, result="started", undo_available=True
    )

    loaded = store.approvals.get("req-1")
    assert done is True
    assert loaded is not None
    assert (loaded.state, loaded.updated_at, loaded.result, loaded.undo_available) == (
        ApprovalState.EXECUTING,
        clock.now,
        "started",
        True,
    )
    assert [r.id for r in store.approvals.list(state=ApprovalState.EXECUTING)] == ["req-1"]
    assert store.approvals.list(state=ApprovalState.PENDING) == []


def test_concurrent_transitions_have_one_winner(store: Store, clock: FakeClock) -> None:
    store.approvals.create(_request(clock))
    start = threading.Barrier(6)

    def click(_: int) -> bool:
        start.wait()
        return store.approvals.transition("req-1", [ApprovalState.PENDING], ApprovalState.APPROVED, at=clock.now)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(click, range(6)))

    assert results.count(True) == 1


def test_due_for_expiry_lists_pending_past_deadline_oldest_first(store: Store, clock: FakeClock) -> None:
    store.approvals.create(_request(clock, "late", deadline_minutes=10))
    store.approvals.create(_request(clock, "early", deadline_minutes=5))
    store.approvals.create(_request(clock, "later", deadline_minutes=60))
    store.approvals.create(_request(clock, "decided", deadline_minutes=1))
    store.approvals.transition("decided", [ApprovalState.PENDING], ApprovalState.REJECTED, at=clock.now)

    due = store.approvals.due_for_expiry(clock.now + timedelta(minutes=10))

    assert [r.id for r in due] == ["early", "late"]


def test_action_history_counts_claimed_runs_incidents_and_kill_switch(store: Store, clock: FakeClock) -> None:
    target = TargetRef(kind="Deployment", name="web", namespace="shop")
    ran = store.executions.create(
        action="restart_workload", params={}, target_kind="Deployment", target_name="web", target_namespace="shop"
    )
    store.executions.create(
        action="restart_workload", params={}, target_kind="Deployment", target_name="web", target_namespace="shop"
    )
    clock.advance(5)
    store.executions.claim_execution(ran.id, "replica-a")
    store.incidents.open("fp", alerts=[], started_at=clock.now)
    resolved = store.incidents.open("fp2", alerts=[], started_at=clock.now)
    store.incidents.transition(resolved.id, IncidentStatus.RESOLVED)
    since = clock.now - timedelta(hours=1)

    assert store.history.action_times(since=since, target=target) == [clock.now]
    assert store.history.action_times(since=since, namespace="blog") == []
    assert len(store.history.action_times(since=since)) == 1
    assert store.history.open_incidents() == 1
    assert store.history.kill_switch_engaged() is False
    store.control.set(paused=True, reason="x", changed_by="oncall", at=clock.now)
    assert store.history.kill_switch_engaged() is True


def test_concurrent_votes_are_all_recorded(store: Store, clock: FakeClock) -> None:
    store.approvals.create(_request(clock))
    start = threading.Barrier(6)

    def vote(n: int) -> None:
        start.wait()
        store.approvals.transition("req-1", [ApprovalState.PENDING], ApprovalState.PENDING, at=clock.now)
        store.approvals.add_vote(
            "req-1", Vote(approver=f"U{n}", decision=VoteDecision.APPROVE, at=clock.now, channel=VoteChannel.SLACK)
        )

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(vote, range(6)))

    loaded = store.approvals.get("req-1")
    assert loaded is not None
    assert sorted(loaded.approvers()) == [f"U{n}" for n in range(6)]
