"""One decision, few commits: the decision's records join one transaction, and what must not
run inside it (notices, the executor, approval requests) runs after the commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event

from agent.app import Agent
from agent.audit import AuditKind
from agent.evaluate import Outcome
from agent.pipeline import Notices
from agent.store import Store
from simcluster.harness import RunningSim
from tests.agent.conftest import FakeClock
from tests.agent.test_executor import sim_agent
from tests.agent.test_pipeline import alert


@pytest.fixture
def commits() -> Iterator[list[int]]:
    """Write transactions committed on any engine while the test runs."""
    seen: list[int] = []

    def count(conn: Connection) -> None:
        if conn.get_execution_options().get("write_lock"):  # writes; reads commit too, and write nothing
            seen.append(1)

    event.listen(Engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "commit", count)


def test_an_escalated_decision_is_two_commits_and_tells_people_after_them(
    sim: RunningSim, tmp_path: Path, commits: list[int]
) -> None:
    agent: Agent = sim_agent(sim, tmp_path / "data")
    told: list[int] = []
    agent.pipeline._notices = Notices(escalate=lambda incident, reason: told.append(len(commits)))
    try:
        commits.clear()
        (handled,) = agent.pipeline.ingest_poll(json.dumps([alert("SomethingNobodyKnows", {"namespace": "shop"})]))
        assert handled.evaluation.outcome is Outcome.ESCALATE
        assert len(commits) == 2, "the incident row, then the decision's records and status together"
        assert told == [2], "the notice went out after the decision was committed"
        kinds = [r.kind for r in agent.store.audit.records()]
        assert AuditKind.DECISION.value in kinds and AuditKind.ESCALATION.value in kinds
    finally:
        agent.stop()


def test_a_transaction_is_one_commit_and_a_failure_keeps_nothing(
    store: Store, clock: FakeClock, commits: list[int]
) -> None:
    ran: list[str] = []
    commits.clear()
    with store.transaction():
        incident = store.incidents.open("fp-1", alerts=[], started_at=clock.now, alert_name="A", namespace="shop")
        store.after_commit(lambda: ran.append("after"))
        assert ran == [], "after_commit waits for the commit"
        store.incidents.open("fp-2", alerts=[], started_at=clock.now, alert_name="B", namespace="shop")
    assert len(commits) == 1 and ran == ["after"]
    assert store.incidents.get(incident.id) is not None

    with pytest.raises(RuntimeError), store.transaction():
        failed = store.incidents.open("fp-3", alerts=[], started_at=clock.now, alert_name="C", namespace="shop")
        store.after_commit(lambda: ran.append("never"))
        raise RuntimeError("boom")
    assert store.incidents.get(failed.id) is None
    assert ran == ["after"]
