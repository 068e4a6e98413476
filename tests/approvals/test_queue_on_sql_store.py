"""The queue's guarantees hold on the agent's SQL store (SQLite here), not only in memory:
one winner per decision across threads, and nothing lost across a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.store import Store
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import Approved, Expired, NeedsAnotherApprover
from approvals.settings import ApprovalSettings
from tests.approvals.conftest import AuditLog, FakeClock, World

A = VoteDecision.APPROVE


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scutum.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.connect(db_url)
    store.upgrade()
    yield store
    store.close()


@pytest.fixture
def sql_world(approval_settings: ApprovalSettings, clock: FakeClock, audit: AuditLog, store: Store) -> World:
    return World(approval_settings, clock, audit, repo=store.approvals)


def test_concurrent_clicks_on_the_sql_store_run_the_action_once(sql_world: World) -> None:
    request = sql_world.ask(0.6)
    barrier = threading.Barrier(6)
    results: list[object] = []
    errors: list[BaseException] = []

    def click(user: str) -> None:
        barrier.wait()
        try:
            results.append(sql_world.queue.vote(request.id, user, A, channel=VoteChannel.SLACK, now=sql_world.clock()))
        except Exception as exc:  # collected so the assertion below names the failure
            errors.append(exc)

    threads = [threading.Thread(target=click, args=("UALICE" if i % 2 else "UBOB",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(isinstance(r, Approved) for r in results) == 1
    assert sql_world.runs == [request.id]
    final = sql_world.queue.get(request.id)
    assert final is not None and final.state is ApprovalState.SUCCEEDED


def test_a_restart_loses_no_request_or_vote(
    sql_world: World, db_url: str, approval_settings: ApprovalSettings, clock: FakeClock, audit: AuditLog
) -> None:
    request = sql_world.ask(0.9)
    first = sql_world.queue.vote(request.id, "UALICE", A, channel=VoteChannel.SLACK, now=clock())
    assert isinstance(first, NeedsAnotherApprover)
    reopened = Store.connect(db_url)
    try:
        after_restart = World(approval_settings, clock, audit, repo=reopened.approvals)
        again = after_restart.queue.vote(request.id, "UALICE", A, channel=VoteChannel.SLACK, now=clock())
        assert isinstance(again, NeedsAnotherApprover) and again.repeated
        done = after_restart.queue.vote(request.id, "UBOB", A, channel=VoteChannel.CLI, now=clock())
        assert isinstance(done, Approved)
        assert after_restart.runs == [request.id]
    finally:
        reopened.close()


def test_expiry_sweep_on_the_sql_store(sql_world: World) -> None:
    request = sql_world.ask(0.6)
    sql_world.clock.advance(900)
    assert [r.id for r in sql_world.queue.expire_due(sql_world.clock())] == [request.id]
    late = sql_world.queue.vote(request.id, "UALICE", A, channel=VoteChannel.SLACK, now=sql_world.clock())
    assert isinstance(late, Expired)
    assert sql_world.runs == []
