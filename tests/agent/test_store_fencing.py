"""The fencing token on execution rows, on SQLite and PostgreSQL: claims raise it, a take-over is a
compare-and-set on it, and the check before every write refuses a stale token or a lost Lease."""

from __future__ import annotations

import pytest

from agent.store import Execution, ExecutionState, FencedOut, Store


def _claimed(store: Store, owner: str = "a") -> Execution:
    execution = store.executions.create(action="scale_workload", params={}, target_kind="Deployment", target_name="x")
    assert store.executions.claim_execution(execution.id, owner)
    claimed = store.executions.get(execution.id)
    assert claimed is not None
    return claimed


def test_a_claim_raises_the_fence_and_the_owner_may_write(store: Store) -> None:
    execution = _claimed(store)
    assert execution.fence == 1
    intent = {"op": "update", "read": "/x", "want": {"spec": {"replicas": 3}}}
    store.executions.fenced_step(execution.id, "a", 1, holds_lease=lambda: True, intent=intent)
    stored = store.executions.get(execution.id)
    assert stored is not None and stored.intent == {"writes": [intent]}


def test_a_replica_without_the_lease_may_not_write(store: Store) -> None:
    execution = _claimed(store)
    with pytest.raises(FencedOut, match="Lease"):
        store.executions.fenced_step(execution.id, "a", execution.fence, holds_lease=lambda: False, intent={"x": 1})
    stored = store.executions.get(execution.id)
    assert stored is not None and stored.intent is None


def test_a_take_over_fences_out_the_former_owner(store: Store) -> None:
    execution = _claimed(store, "a")
    store.executions.mark_running(execution.id, "a", fence=execution.fence)
    running = store.executions.get(execution.id)
    assert running is not None
    taken = store.executions.take_over(running, "b")
    assert taken is not None and taken.claimed_by == "b" and taken.fence == running.fence + 1
    with pytest.raises(FencedOut):
        store.executions.fenced_step(execution.id, "a", running.fence, holds_lease=lambda: True)
    store.executions.fenced_step(execution.id, "b", taken.fence, holds_lease=lambda: True)
    # the former owner can neither record nor finish it
    with pytest.raises(ValueError, match="not held"):
        store.executions.finish(execution.id, "a", succeeded=True, outcome={}, fence=running.fence)


def test_only_one_of_two_take_overs_of_the_same_token_wins(store: Store) -> None:
    execution = _claimed(store, "a")
    assert store.executions.take_over(execution, "b") is not None
    assert store.executions.take_over(execution, "c") is None
    stored = store.executions.get(execution.id)
    assert stored is not None and stored.claimed_by == "b"


def test_a_restart_goes_back_to_claimed_and_counts_the_attempt(store: Store) -> None:
    execution = _claimed(store, "a")
    store.executions.mark_running(execution.id, "a")
    running = store.executions.get(execution.id)
    assert running is not None
    taken = store.executions.take_over(running, "b", restart=True)
    assert taken is not None and taken.state is ExecutionState.CLAIMED
    assert taken.intent == {"writes": [], "attempts": 2}


def test_a_failure_whose_writes_did_not_land_is_no_action_for_cooldowns(store: Store) -> None:
    landed, missed = _claimed(store, "a"), _claimed(store, "a")
    store.executions.finish(landed.id, "a", succeeded=False, outcome={}, effect="applied")
    store.executions.finish(missed.id, "a", succeeded=False, outcome={}, effect="not_applied")
    since = landed.created_at.replace(year=2000)
    assert store.history.action_times(since=since) == [landed.claimed_at]
