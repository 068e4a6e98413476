"""Chaos at every step: a real `scutum run` stopped with SIGTERM while each request of an
execution is in flight (a decision reads only the watch cache), and the database taken away in
the middle of the re-check and of the dry run (SQLite locked past its busy timeout; PostgreSQL
refusing connections, through a proxy this test owns, so the shared server is never touched).

Read back from the store afterwards: the incident ends exactly once (one decision, one execution,
one real write of the fix), nothing is left open, and `scutum audit verify` passes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from agent.store import ExecutionState, IncidentStatus
from bench.chaos_world import NAMESPACE, WORKLOAD, Chaos, chaos, wait_until
from bench.db_outage import DatabaseProxy, sqlite_locked
from tests.chaos.test_chaos import assert_invariants, hung, settled

pytestmark = pytest.mark.chaos

DONE = (IncidentStatus.VERIFIED, IncidentStatus.RESOLVED)


@dataclass(frozen=True)
class Step:
    """One request of a decision or an execution: the `skip + 1`-th request matching `match`."""

    name: str
    match: dict[str, Any]
    skip: int = 0
    applied: bool = False
    """The write takes effect and its answer is lost."""


GET = {"verb": "get", "resource": "deployments", "name": WORKLOAD}
PATCH = {"verb": "patch", "resource": "deployments", "name": WORKLOAD}
STEPS = [
    # The decision reads the watch cache only; the executor's re-check reads the target and what
    # it owns live (its PodDisruptionBudgets and autoscalers from the cache: RecheckReader).
    Step("execution: re-check the target", GET),
    Step("execution: re-check its history", {"verb": "list", "resource": "replicasets"}),
    Step("execution: re-check its pods", {"verb": "list", "resource": "pods"}),
    Step("execution: re-probe the target", GET, skip=1),
    Step("execution: re-read the target", GET, skip=2),
    Step("execution: probe its autoscalers", {"verb": "list", "resource": "horizontalpodautoscalers"}),
    Step("execution: dry run", {**PATCH, "dry_run": True}),
    Step("execution: read before the write", GET, skip=3),
    Step("execution: the write, before it applies", {**PATCH, "dry_run": False}),
    Step("execution: the write, applied, answer lost", {**PATCH, "dry_run": False}, applied=True),
    Step("execution: verification", GET, skip=4),
]


def stop_at(world: Chaos, step: Step) -> None:
    """Hang the step's request (letting the `skip` earlier matches through untouched)."""
    rule = {"namespace": NAMESPACE, **step.match}
    if step.skip:
        world.fault(kind="latency", seconds=0.0, count=step.skip, **rule)
    world.fault(kind="hang", count=1, apply=step.applied, **rule)


def ended_once(world: Chaos) -> bool:
    """The incident closed, its execution settled (what the assertions then check in detail)."""
    return bool(settled(world)) and all(i.status in DONE for i in world.incidents())


def felt_by(world: Chaos, identity: str) -> str:
    """The agent's log: the outage must have reached it (or the test proved nothing)."""
    return (world.workdir / f"{identity}.log").read_text(encoding="utf-8", errors="replace")


def assert_ended_exactly_once(world: Chaos) -> None:
    """One incident, decided once, executed once, written once, nothing left open, chain intact."""
    (incident,) = world.incidents()
    assert incident.status in DONE
    assert len(world.audit("decision")) == 1
    assert not [e for e in world.executions() if e.state in (ExecutionState.CLAIMED, ExecutionState.RUNNING)]
    assert len([w for w in world.real_writes() if w["applied"]]) == 1  # a write cut before it applied is sent again
    assert_invariants(world, writes=len(world.real_writes()))
    (execution,) = world.executions()
    assert execution.state is ExecutionState.SUCCEEDED


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_sigterm_at_every_step_ends_the_incident_exactly_once_after_a_restart(world: Chaos, step: Step) -> None:
    first = world.start_agent("agent-a")
    stop_at(world, step)
    world.inject()
    wait_until(lambda: hung(world), what=f"the agent to reach: {step.name}")
    os.kill(first.pid, signal.SIGTERM)
    assert first.wait(timeout=30) is not None
    world.sim.server.api.faults.clear()

    world.start_agent("agent-b")
    wait_until(lambda: ended_once(world), timeout=90, what="the restarted agent to finish the incident")
    assert_ended_exactly_once(world)


RECHECK = STEPS[0]
DRY_RUN = Step("execution: dry run", {**PATCH, "dry_run": True})
OUTAGE_AT = [RECHECK, DRY_RUN]


@pytest.mark.parametrize("step", OUTAGE_AT, ids=["re-check", "dry-run"])
def test_sqlite_locked_in_the_middle_of_a_run_ends_the_incident_exactly_once(world: Chaos, step: Step) -> None:
    world.start_agent("agent-a")
    stop_at(world, step)
    world.inject()
    wait_until(lambda: hung(world), what=f"the agent to reach: {step.name}")
    with sqlite_locked(world.workdir / "data" / "scutum.db"):
        world.sim.server.api.faults.clear()  # it goes on, and its next write waits out the busy timeout
        time.sleep(13.0)

    wait_until(lambda: ended_once(world), timeout=90, what="the agent to finish the incident after the lock")
    assert "database is locked" in felt_by(world, "agent-a")
    assert_ended_exactly_once(world)


@pytest.fixture
def proxied_world(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Chaos, DatabaseProxy]]:
    """A chaos world on PostgreSQL whose agents connect through a proxy the test can take down."""
    url = make_url(postgres_url)
    proxy = DatabaseProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    try:
        with chaos(tmp_path, postgres_url) as running:
            running.agent_database_url = url.set(port=proxy.port).render_as_string(hide_password=False)
            yield running, proxy
    finally:
        proxy.down()


@pytest.mark.postgres
@pytest.mark.parametrize("step", OUTAGE_AT, ids=["re-check", "dry-run"])
def test_postgres_refusing_connections_in_the_middle_of_a_run_ends_the_incident_exactly_once(
    proxied_world: tuple[Chaos, DatabaseProxy], step: Step
) -> None:
    world, proxy = proxied_world
    world.start_agent("agent-a")
    stop_at(world, step)
    world.inject()
    wait_until(lambda: hung(world), what=f"the agent to reach: {step.name}")
    proxy.down()  # connections cut; new ones refused
    world.sim.server.api.faults.clear()
    time.sleep(6.0)
    proxy.up()

    wait_until(lambda: ended_once(world), timeout=90, what="the agent to finish the incident after the outage")
    assert "OperationalError" in felt_by(world, "agent-a")
    assert_ended_exactly_once(world)
