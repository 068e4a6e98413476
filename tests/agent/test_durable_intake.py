"""Durable intake: an alert counts as seen only once its decision is committed, incidents are
rebuilt from the store, and an incident whose approval or action is in hand is joined, never
decided twice (restart, failover, an empty answer from Alertmanager)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from agent.app import Agent
from agent.audit import AuditKind
from agent.evaluate import Outcome
from agent.planning.targets import ObjectRef
from agent.store import IncidentStatus
from approvals import cli_channel
from approvals.model import ApprovalState
from simcluster.harness import RunningSim
from tests.agent.test_executor import APPROVER, sim_agent

REQUIRE_APPROVAL = {"execute_max": 0.3, "deny_min": 0.95}
"""Default threshold: a rollback of frontend needs a person."""


class Outage:
    """The database refuses every session while `down` (as an unreachable server does)."""

    def __init__(self, agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
        db = agent.store._db
        self._session: Callable[..., AbstractContextManager[Any]] = db.session
        self.down = False
        self.refused = 0
        monkeypatch.setattr(db, "session", self.session)

    def session(self, **kwargs: Any) -> AbstractContextManager[Any]:
        if self.down:
            self.refused += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        return self._session(**kwargs)


@pytest.fixture
def settled(sim: RunningSim) -> RunningSim:
    sim.cluster.settle(passes=10, seconds=2.0)
    sim.cluster.tick(3600)
    sim.cluster.settle(passes=3, seconds=2.0)
    return sim


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    made: list[Agent] = []
    yield made
    for agent in made:
        agent.stop()


def fire(sim: RunningSim, fault: str, **params: str) -> list[dict[str, Any]]:
    """Inject a fault and let simulated time pass until its alerts fire."""
    sim.cluster.inject(fault, **params)
    for _ in range(60):
        sim.cluster.tick(15)
        if sim.cluster.firing_alerts():
            return sim.cluster.firing_alerts()
    raise AssertionError(f"{fault} raised no alert")


def poll(agent: Agent, sim: RunningSim) -> list[tuple[str, Outcome, str | None]]:
    """One complete poll of what the cluster fires: (workload, outcome, joined) per decision."""
    handled = agent.pipeline.ingest_poll(json.dumps(sim.cluster.firing_alerts()))
    return [(workload(h.evaluation.incident.target), h.evaluation.outcome, h.joined) for h in handled]


def workload(target: ObjectRef | None) -> str:
    """The Deployment a target names or a pod of it belongs to ("frontend-5d9c-x2" is frontend)."""
    return target.name.split("-")[0] if target else ""


def test_alerts_arriving_while_the_database_is_down_are_decided_on_the_first_poll_after(
    settled: RunningSim, tmp_path: Path, agents: list[Agent], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    agents.append(agent)
    outage = Outage(agent, monkeypatch)
    outage.down = True
    settled.cluster.inject("scale_to_zero", namespace="shop", deployment="catalog")
    settled.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
    for _ in range(60):
        settled.cluster.tick(15)
        firing = json.dumps(settled.cluster.firing_alerts())
        if "catalog" in firing and "frontend" in firing:
            break
    for _ in range(4):  # 30 s of polls against a dead database: nothing decided, nothing lost
        assert poll(agent, settled) == []
        settled.cluster.tick(7.5)
    assert outage.refused > 0

    outage.down = False
    decided = {name: outcome for name, outcome, _ in poll(agent, settled)}

    assert decided.keys() >= {"catalog", "frontend"}
    stored = agent.store.incidents.unresolved(limit=100)
    assert {i.id for i in stored} == {i.id for i in agent.pipeline.intake.open_incidents()}
    assert poll(agent, settled) == []  # decided once: the next poll only updates them
    failures = [r.payload for r in agent.store.audit.records() if r.kind == AuditKind.ERROR.value]
    assert failures == []  # the audit chain was down too: the failures were logged, not recorded


def pending(agent: Agent) -> list[str]:
    return [r.id for r in agent.approvals.repository.list(state=ApprovalState.PENDING)]


def test_an_incident_awaiting_approval_gets_one_request_through_empty_answers_restarts_and_failover(
    settled: RunningSim, tmp_path: Path, agents: list[Agent]
) -> None:
    data = tmp_path / "data"
    first = sim_agent(settled, data, policy=REQUIRE_APPROVAL)
    agents.append(first)
    fire(settled, "bad_image_rollout", namespace="shop", deployment="frontend")
    assert ("frontend", Outcome.APPROVE, None) in poll(first, settled)
    (request,) = pending(first)

    assert first.pipeline.ingest_poll("[]") == []  # Alertmanager answered empty once
    assert [d for d in poll(first, settled) if d[0] == "frontend"] == []
    first.stop()
    agents.remove(first)

    restarted = sim_agent(settled, data, policy=REQUIRE_APPROVAL)
    agents.append(restarted)
    restarted.start(schedule=False)  # rebuilds the open incidents from the store
    assert [d for d in poll(restarted, settled) if d[0] == "frontend"] == []

    standby = sim_agent(settled, data, identity="agent-b", policy=REQUIRE_APPROVAL)
    agents.append(standby)  # took over without a rebuild: the store still says "in hand"
    assert [d for d in poll(standby, settled) if d[0] == "frontend"] == []

    assert pending(standby) == [request]
    rejoins = [r for r in standby.store.audit.records() if r.payload.get("rejoined")]
    assert len(rejoins) >= 2


def test_a_refire_within_the_cooldown_is_not_joined_to_the_verified_incident(
    settled: RunningSim, tmp_path: Path, agents: list[Agent]
) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    agents.append(agent)
    fire(settled, "scale_to_zero", namespace="shop", deployment="catalog")
    assert ("catalog", Outcome.EXECUTE, None) in poll(agent, settled)
    agent.executor.wait(timeout=60)
    (fixed,) = agent.store.incidents.in_status(IncidentStatus.VERIFIED)
    for _ in range(8):
        settled.cluster.tick(15)
        poll(agent, settled)

    fire(settled, "scale_to_zero", namespace="shop", deployment="catalog")  # well within 15 min
    again = [d for d in poll(agent, settled) if d[0] == "catalog"]

    assert again == [("catalog", Outcome.DENY, None)]  # the cooldown veto sends it to humans
    refired = [i for i in agent.store.incidents.unresolved(limit=10) if i.id != fixed.id]
    assert [i.status for i in refired] == [IncidentStatus.ESCALATED]


def test_resolved_alerts_resolve_an_incident_that_needed_nothing(
    settled: RunningSim, tmp_path: Path, agents: list[Agent]
) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    agents.append(agent)
    unknown = {
        "labels": {"alertname": "SomethingNobodyKnows", "severity": "warning", "namespace": "shop"},
        "annotations": {},
        "startsAt": "2026-01-01T01:00:00Z",
        "endsAt": "2099-01-01T03:00:00Z",
        "fingerprint": "fp-unknown",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
    }
    (handled,) = agent.pipeline.ingest_poll(json.dumps([unknown]))
    assert handled.evaluation.outcome is Outcome.ESCALATE

    agent.pipeline.ingest_poll("[]")

    stored = agent.store.incidents.get(handled.evaluation.incident.id)
    assert stored is not None and stored.status is IncidentStatus.RESOLVED


def test_a_request_approved_after_a_restart_is_rescored_with_its_stored_proposal_and_alerts(
    settled: RunningSim, tmp_path: Path, agents: list[Agent]
) -> None:
    data = tmp_path / "data"
    first = sim_agent(settled, data, policy=REQUIRE_APPROVAL)
    agents.append(first)
    fire(settled, "bad_image_rollout", namespace="shop", deployment="frontend")
    poll(first, settled)
    (request,) = pending(first)
    first.stop()
    agents.remove(first)

    restarted = sim_agent(settled, data, policy=REQUIRE_APPROVAL)
    agents.append(restarted)
    restarted.start(schedule=False)
    assert cli_channel.approve(restarted.approvals, request, as_user=APPROVER, now=restarted.clock()).exit_code == 0
    restarted.dispatch()
    restarted.executor.wait(timeout=60)

    revalidation = [r.payload for r in restarted.store.audit.records() if r.payload.get("revalidation")]
    assert revalidation, "the approved request was re-validated before acting"
    reasons = json.dumps(revalidation[-1]["components"]["state_validity"])
    assert "cannot tell whether the alert still fires" not in reasons
    (execution,) = restarted.store.executions.recent(restarted.clock().replace(year=2000))
    stored = restarted.store.incidents.proposals(execution.incident_id or "")
    assert execution.proposal_id in {p.id for p in stored}


def test_a_replica_taking_the_lead_rebuilds_the_open_incidents_from_the_store(
    settled: RunningSim, tmp_path: Path, agents: list[Agent]
) -> None:
    data = tmp_path / "data"
    first = sim_agent(settled, data, policy=REQUIRE_APPROVAL)
    agents.append(first)
    fire(settled, "bad_image_rollout", namespace="shop", deployment="frontend")
    poll(first, settled)
    (request,) = pending(first)
    held = {i.id for i in first.store.incidents.unresolved(limit=100)}

    successor = sim_agent(settled, data, identity="agent-b", policy=REQUIRE_APPROVAL)
    agents.append(successor)
    assert successor.pipeline.intake.open_incidents() == []
    assert successor.take_over()  # what its first poll or dispatch as leader does first

    assert held <= {i.id for i in successor.pipeline.intake.open_incidents()}
    assert successor.poll_once() == []  # the alerts update the rebuilt incidents
    assert pending(successor) == [request]
    (report,) = [r for r in successor.store.replicas.list() if r.identity == "agent-b"]
    assert report.leading and report.poll_ok and report.poll_detail == "0 decided"
