"""Chaos: real `scutum run` processes killed, frozen and stopped at chosen steps of an action,
and API faults on its writes. After each, whatever happened:

- no double execution: the simulator's request log shows at most one real write of the fix;
- no write by a non-leader or a replica whose claim was taken over;
- the recorded outcome equals the cluster's state;
- every failure is audited and escalated, and its incident is escalated;
- `scutum audit verify` passes.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from agent.store import ExecutionState
from bench.chaos_world import NAMESPACE, WORKLOAD, Chaos, wait_until
from simcluster.errors import NotFound

pytestmark = pytest.mark.chaos

TARGET = {"namespace": NAMESPACE, "name": WORKLOAD, "resource": "deployments", "verb": "patch"}


def hung(world: Chaos) -> bool:
    return bool(world.requests(fault="hang"))


def settled(world: Chaos) -> list[object]:
    return [e for e in world.executions() if e.state not in (ExecutionState.CLAIMED, ExecutionState.RUNNING)]


def assert_invariants(world: Chaos, *, writes: int = 1) -> None:
    """One fix written at most once, the record matching the cluster, a verifiable audit chain."""
    assert len(world.real_writes()) == writes
    executions = [e for e in world.executions() if e.state is not ExecutionState.REFUSED]
    assert len(executions) == 1
    (execution,) = executions
    if execution.state is ExecutionState.SUCCEEDED:
        assert execution.effect == "applied" and world.replicas() == 1
    else:
        assert execution.effect in ("not_applied", "unknown")
        failures = [r for r in world.audit("execution") if r.get("failed") and r["execution"] == execution.id]
        escalations = [r for r in world.audit("escalation") if r.get("execution") == execution.id]
        assert failures and escalations
    verified = world.verify_audit()
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_kill_9_during_the_dry_run_runs_it_again_once(world: Chaos) -> None:
    first = world.start_agent("agent-a")
    world.fault(kind="hang", dry_run=True, count=1, **TARGET)
    world.inject()
    wait_until(lambda: hung(world), what="the dry run to hang")
    first.kill()
    first.wait(timeout=10)
    world.sim.server.api.faults.clear()

    world.start_agent("agent-b")  # same store: recovery at start
    (execution,) = wait_until(lambda: settled(world), what="recovery")
    assert execution.state is ExecutionState.SUCCEEDED
    assert (execution.intent or {}).get("attempts") == 2  # nothing had taken effect: run again, no cooldown
    assert_invariants(world)


def test_kill_9_after_the_write_before_the_answer_is_recorded_as_done(world: Chaos) -> None:
    first = world.start_agent("agent-a")
    world.fault(kind="hang", apply=True, dry_run=False, count=1, **TARGET)
    world.inject()
    wait_until(lambda: hung(world), what="the write to hang after applying")
    first.kill()
    first.wait(timeout=10)
    world.sim.server.api.faults.clear()

    world.start_agent("agent-b")
    (execution,) = wait_until(lambda: settled(world), what="recovery")
    assert execution.state is ExecutionState.SUCCEEDED and execution.claimed_by == "agent-b"
    assert any(r.get("recovered") for r in world.audit("execution"))
    assert_invariants(world)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_stopped_during_verification_is_verified_by_the_next_agent(world: Chaos, stop: signal.Signals) -> None:
    first = world.start_agent("agent-a")
    world.inject()
    wait_until(world.real_writes, what="the write")
    world.fault(kind="hang", **{**TARGET, "verb": "get"})  # verification reads hang
    started = time.monotonic()
    os.kill(first.pid, stop)
    first.wait(timeout=30)
    if stop is signal.SIGTERM:
        assert time.monotonic() - started < 20  # the shutdown budget bounds it (5 s in these settings)
    world.sim.server.api.faults.clear()

    world.start_agent("agent-b")
    (execution,) = wait_until(lambda: settled(world), what="recovery")
    assert execution.state is ExecutionState.SUCCEEDED
    assert_invariants(world)


def test_503_on_every_write_fails_visibly_and_changes_nothing(world: Chaos) -> None:
    world.start_agent("agent-a")
    world.fault(kind="status", status=503, dry_run=False, **TARGET)
    world.inject()
    (execution,) = wait_until(lambda: settled(world), what="the run to fail")
    assert execution.state is ExecutionState.FAILED and world.replicas() == 0
    (failure,) = [r for r in world.audit("execution") if r.get("failed")]
    assert failure["reason"] == "api_error"
    assert_invariants(world, writes=len(world.real_writes()))
    assert all(e["status"] == 503 for e in world.real_writes())


@pytest.mark.postgres
def test_a_frozen_leader_sends_nothing_after_a_standby_took_over(pg_world: Chaos) -> None:
    world = pg_world
    leader = world.start_agent("agent-a", leader_election=True)
    wait_until(lambda: lease_holder(world) == "agent-a", what="agent-a to lead")
    world.start_agent("agent-b", leader_election=True)
    world.fault(kind="hang", dry_run=True, count=1, **TARGET)
    world.inject()
    wait_until(lambda: hung(world), what="the leader's dry run to hang")
    os.kill(leader.pid, signal.SIGSTOP)  # frozen past its Lease

    (execution,) = wait_until(lambda: settled(world), timeout=90, what="the standby to take over and act")
    assert execution.claimed_by == "agent-b" and execution.state is ExecutionState.SUCCEEDED
    world.sim.server.api.faults.clear()  # the frozen leader's request is dropped...
    os.kill(leader.pid, signal.SIGCONT)  # ... and it thaws, still believing it acts
    time.sleep(3)
    assert_invariants(world)


def lease_holder(world: Chaos) -> str | None:
    try:
        lease = world.sim.cluster.store.get("Lease", "default", "scutum-leader")
    except NotFound:
        return None
    holder: str | None = (lease.get("spec") or {}).get("holderIdentity")
    return holder
