"""Crash and failover end to end: an action interrupted by a crash is never run twice, and of
two agents sharing one Lease and one store only the leader acts, until it dies and the other
takes over once the lease expires."""

from __future__ import annotations

from typing import Any

import pytest

from agent.app import Agent
from agent.evaluate import Outcome
from agent.store import ExecutionState
from tests.e2e.world import World, about, executions

AUTO_EXECUTE_SHOP = {"namespaces": {"shop": {"execute_max": 0.79}}}
LEASE = {"enabled": True, "lease_duration_seconds": 30.0, "renew_deadline_seconds": 20.0, "retry_period_seconds": 5.0}


class Crash(BaseException):
    """The process dies: not an error the executor's task boundary catches."""


def generation(world: World, namespace: str, name: str) -> int:
    """Spec writes to a Deployment (status updates leave it alone)."""
    value: int = world.sim.cluster.store.get("Deployment", namespace, name)["metadata"]["generation"]
    return value


def leading(agent: Agent) -> bool:
    """Whether the agent would act now (a call, so each check reads the lease state afresh)."""
    return agent.is_leader


def crash_on_first_pause(seconds: float) -> None:
    raise Crash("killed between acting and verifying")


def test_action_interrupted_by_a_crash_is_reconciled_not_repeated(world: World, database_url: str | None) -> None:
    settings = world.settings(policy=AUTO_EXECUTE_SHOP, database_url=database_url)
    first = world.agent(settings, sleep=crash_on_first_pause)
    world.sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
    broken = generation(world, "shop", "frontend")
    handled = world.poll_until(first, about("frontend", namespace="shop"))
    assert handled.evaluation.outcome is Outcome.EXECUTE
    with pytest.raises(Crash):
        first.executor.wait(timeout=60)
    (interrupted,) = executions(first)
    assert interrupted.state is ExecutionState.RUNNING
    acted = generation(world, "shop", "frontend")
    assert acted == broken + 1  # the rollback was written once, then the process died
    world.retire(first)
    first.stop()

    second = world.agent(settings)  # same store: start() reconciles what the first left behind
    (reconciled,) = executions(second)
    assert reconciled.id == interrupted.id
    assert reconciled.state is ExecutionState.SUCCEEDED  # judged from the cluster and the recorded outcome
    assert (reconciled.outcome or {}).get("reconciled") is True
    for _ in range(6):  # the alerts come back to the new agent; it must not roll back again
        world.step()
        second.poll_once()
        second.executor.wait(timeout=30)
    assert generation(world, "shop", "frontend") == acted
    assert [e.id for e in executions(second) if e.state is not ExecutionState.REFUSED] == [interrupted.id]


def test_only_the_lease_holder_acts_and_a_standby_takes_over_after_expiry(
    world: World, database_url: str | None
) -> None:
    def settings(identity: str) -> Any:
        return world.settings(
            policy=AUTO_EXECUTE_SHOP, identity=identity, leader_election=LEASE, database_url=database_url
        )

    leader = world.agent(settings("agent-a"), start=False)
    standby = world.agent(settings("agent-b"), start=False)
    world.electing.extend([leader, standby])
    world.step(1)
    assert (leading(leader), leading(standby)) == (True, False)
    world.sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")

    decided = None
    for _ in range(20):
        world.step()
        assert standby.poll_once() == []
        assert standby.sweep_approvals() == []
        decided = next((h for h in leader.poll_once() if about("frontend", namespace="shop")(h)), None)
        if decided is not None:
            break
    assert decided is not None and decided.execution_id is not None
    standby.executor.run(decided.execution_id)  # a standby handed the row does not act on it
    leader.executor.wait(timeout=60)
    (first,) = executions(standby)
    assert first.claimed_by == "agent-a" and first.state is ExecutionState.SUCCEEDED

    # The leader dies without releasing the lease: the standby waits for it to expire.
    world.retire(leader)
    world.electing.remove(leader)
    world.step(10)
    assert not leading(standby)
    world.step(25)
    assert not leading(leader)  # past its renew deadline it would stop acting on its own
    assert leading(standby)
    world.sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="catalog")
    taken_over = world.poll_until(standby, about("catalog", namespace="shop"))
    assert taken_over.execution_id is not None
    standby.executor.wait(timeout=60)
    catalog = executions(standby, target="catalog")
    assert [(e.claimed_by, e.state) for e in catalog] == [("agent-b", ExecutionState.SUCCEEDED)]
    assert leader.poll_once() == []
    leader.store.close()
