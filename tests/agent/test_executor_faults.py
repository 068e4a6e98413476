"""The executor under API faults and lost leadership, against the simulated cluster over HTTP.

Each test reads the simulator's request log: what was really sent is the evidence, not what
the executor believes it did."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.base import ActionContext
from actions.kube import Kube, RetryPolicy
from agent.app import Agent
from agent.audit import AuditKind
from agent.executor import Executor, ExecutorSettings
from agent.fencing import FenceGuard
from agent.store import ExecutionState
from simcluster.harness import RunningSim
from tests.agent.test_executor import catalog, executed_records, failure_records, scale_catalog, sim_agent

FAST = RetryPolicy(attempts=3, max_delay_seconds=2.0, initial_backoff_seconds=0.01, max_backoff_seconds=0.05)


@pytest.fixture
def settled(sim: RunningSim) -> RunningSim:
    sim.cluster.settle(passes=10, seconds=2.0)
    sim.cluster.tick(3600)
    sim.cluster.settle(passes=3, seconds=2.0)
    return sim


@pytest.fixture
def agent(settled: RunningSim, tmp_path: Path) -> Iterator[Agent]:
    agent = sim_agent(settled, tmp_path / "data")
    try:
        yield agent
    finally:
        agent.stop()


def executor(
    agent: Agent,
    sim: RunningSim,
    *,
    identity: str,
    is_leader: Callable[[], bool] = lambda: True,
    timeout: float = 30.0,
) -> Executor:
    """Another replica's executor on the same store and cluster, with its own leadership."""
    kube = Kube.from_url(sim.url, retry=RetryPolicy(**{**FAST.__dict__, "request_timeout_seconds": timeout}))
    return Executor(
        store=agent.store,
        audit=agent.audit,
        evaluator=agent.pipeline.evaluator,
        context=ActionContext(kube=kube, clock=agent.clock),
        approvals=agent.approvals,
        metrics=agent.metrics,
        clock=agent.clock,
        identity=identity,
        is_leader=is_leader,
        settings=ExecutorSettings(verify_timeout_seconds=20.0, verify_interval_seconds=0.0),
        sleep=lambda seconds: sim.cluster.tick(10),
    )


def fault(sim: RunningSim, **rule: Any) -> None:
    sim.server.api.faults.add(rule)


def real_patches(sim: RunningSim) -> list[dict[str, Any]]:
    """Real (not dry-run) writes to the catalog Deployment that reached the server."""
    return [
        e
        for e in sim.server.api.faults.requests()
        if e["name"] == "catalog" and e["verb"] == "patch" and not e["dry_run"]
    ]


def new_execution(agent: Agent, *, incident: bool = True) -> str:
    proposal = scale_catalog(agent)
    incident_id = None
    if incident:
        incident_id = agent.store.incidents.open(
            "fp", alerts=[], started_at=agent.clock(), alert_name="CatalogDown", namespace="shop"
        ).id
    return agent.store.executions.create(
        action=proposal.action.value,
        params=proposal.params.model_dump(mode="json"),
        target_kind=proposal.target.kind,
        target_name=proposal.target.name,
        target_namespace=proposal.target.namespace,
        incident_id=incident_id,
    ).id


def run_of_a_dead_replica(agent: Agent) -> tuple[str, FenceGuard]:
    """An execution a replica called "dead" claimed and started, with the fence it writes under."""
    execution_id = new_execution(agent)
    assert agent.store.executions.claim_execution(execution_id, "dead")
    agent.store.executions.mark_running(execution_id, "dead")
    claimed = agent.store.executions.get(execution_id)
    assert claimed is not None
    guard = FenceGuard(
        agent.store.executions,
        agent.kube,
        execution_id=execution_id,
        owner="dead",
        fence=claimed.fence,
        holds_lease=lambda: True,
    )
    return execution_id, guard


def failed_metric(agent: Agent, reason: str) -> float:
    value = agent.metrics.registry.get_sample_value(
        "scutum_actions_failed_total", {"action": "scale_workload", "reason": reason}
    )
    return value or 0.0


def test_apply_then_503_is_found_applied_and_not_sent_again_and_undo_is_offered(
    agent: Agent, settled: RunningSim
) -> None:
    fault(settled, kind="apply_then_fail", verb="patch", resource="deployments", dry_run=False, count=1)
    runner = executor(agent, settled, identity="agent-a")
    execution_id = new_execution(agent)
    runner.run(execution_id)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert (execution.outcome or {}).get("changed") is True
    assert catalog(settled)["spec"]["replicas"] == 3
    assert len(real_patches(settled)) == 1  # the retry saw its own write and sent nothing
    undo = [r for r in agent.store.audit.records() if r.kind == AuditKind.UNDO_OFFERED.value]
    assert len(undo) == 1 and undo[0].payload["inverse"]["params"]["replicas"] == 2


def test_a_lost_response_after_the_write_is_judged_applied(agent: Agent, settled: RunningSim) -> None:
    fault(settled, kind="hang", apply=True, seconds=3, verb="patch", resource="deployments", dry_run=False, count=1)
    runner = executor(agent, settled, identity="agent-a", timeout=0.5)
    execution_id = new_execution(agent)
    runner.run(execution_id)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert execution.effect == "applied"
    assert len(real_patches(settled)) == 1


def test_503_on_every_try_fails_visibly_and_spends_no_cooldown(agent: Agent, settled: RunningSim) -> None:
    fault(settled, kind="status", status=503, verb="patch", resource="deployments", dry_run=False)
    runner = executor(agent, settled, identity="agent-a")
    execution_id = new_execution(agent)
    runner.run(execution_id)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.FAILED
    assert execution.effect == "not_applied"
    assert catalog(settled)["spec"]["replicas"] == 2
    (failure,) = failure_records(agent)
    assert failure["reason"] == "api_error" and "503" in failure["error"]
    escalations = [r for r in agent.store.audit.records() if r.kind == AuditKind.ESCALATION.value]
    assert len(escalations) == 1 and escalations[0].payload["execution"] == execution_id
    assert agent.store.incidents.get(execution.incident_id or "").status.value == "escalated"  # type: ignore[union-attr]
    assert failed_metric(agent, "api_error") == 1
    assert agent.store.history.action_times(since=execution.created_at.replace(year=2000)) == []


def test_a_former_leader_sends_no_write_after_a_take_over(agent: Agent, settled: RunningSim) -> None:
    leading = threading.Event()
    leading.set()
    old = executor(agent, settled, identity="old-leader", is_leader=leading.is_set)
    new = executor(agent, settled, identity="new-leader")
    fault(settled, kind="hang", verb="patch", resource="deployments", dry_run=True, count=1)
    execution_id = new_execution(agent)
    frozen = threading.Thread(target=old.run, args=(execution_id,))
    frozen.start()
    deadline = time.monotonic() + 10
    while not any(e["fault"] == "hang" for e in settled.server.api.faults.requests()) and time.monotonic() < deadline:
        time.sleep(0.02)  # the old leader is now stuck in its dry run

    leading.clear()  # its Lease lapsed; the new leader recovers the run
    assert new.reconcile() == [execution_id]
    new.wait(timeout=30)
    settled.server.api.faults.clear()  # the old leader thaws
    frozen.join(timeout=30)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert execution.claimed_by == "new-leader"
    assert len(real_patches(settled)) == 1
    assert catalog(settled)["spec"]["replicas"] == 3
    assert failed_metric(agent, "fenced") == 1
    assert len(executed_records(agent)) == 1


def test_a_crash_after_the_write_before_recording_is_recovered_as_succeeded(agent: Agent, settled: RunningSim) -> None:
    execution_id, guard = run_of_a_dead_replica(agent)
    guarded = agent.kube.guarded(guard)
    guarded.patch("Deployment", "catalog", {"spec": {"replicas": 3}}, "shop", dry_run=True)
    guarded.patch("Deployment", "catalog", {"spec": {"replicas": 3}}, "shop")  # ... and the process dies here

    recovering = executor(agent, settled, identity="agent-b")
    assert recovering.reconcile() == [execution_id]
    recovering.wait(timeout=30)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert execution.effect == "applied" and execution.claimed_by == "agent-b"
    assert [r["recovered"] for r in executed_records(agent)] == [True]
    assert len(real_patches(settled)) == 1


def test_a_crash_during_the_dry_run_is_run_again_without_cooldown(agent: Agent, settled: RunningSim) -> None:
    execution_id, guard = run_of_a_dead_replica(agent)
    agent.kube.guarded(guard).patch("Deployment", "catalog", {"spec": {"replicas": 3}}, "shop", dry_run=True)

    recovering = executor(agent, settled, identity="agent-b")
    assert recovering.reconcile() == [execution_id]
    recovering.wait(timeout=30)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert (execution.intent or {}).get("attempts") == 2
    assert catalog(settled)["spec"]["replicas"] == 3
    assert len(real_patches(settled)) == 1


def test_shutdown_abandons_verification_and_recovery_settles_it(agent: Agent, settled: RunningSim) -> None:
    pausing, resume = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        pausing.set()
        resume.wait(timeout=10)

    stopping = Executor(
        store=agent.store,
        audit=agent.audit,
        evaluator=agent.pipeline.evaluator,
        context=ActionContext(kube=agent.kube, clock=agent.clock),
        approvals=agent.approvals,
        metrics=agent.metrics,
        clock=agent.clock,
        identity="agent-a",
        settings=ExecutorSettings(verify_timeout_seconds=20.0, verify_interval_seconds=1.0),
        sleep=sleep,
    )
    execution_id = new_execution(agent)
    run = threading.Thread(target=stopping.run, args=(execution_id,))
    run.start()
    assert pausing.wait(timeout=20)  # written, now waiting for the rollout to settle
    assert stopping.stop(budget_seconds=5.0)
    resume.set()
    run.join(timeout=10)

    left = agent.store.executions.get(execution_id)
    assert left is not None and left.state is ExecutionState.RUNNING and left.outcome is not None
    assert failure_records(agent) == []

    recovering = executor(agent, settled, identity="agent-b")
    assert recovering.reconcile() == [execution_id]
    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert len(real_patches(settled)) == 1


def test_an_interrupted_write_that_cannot_be_told_is_escalated_with_both_states(
    agent: Agent, settled: RunningSim
) -> None:
    execution_id, guard = run_of_a_dead_replica(agent)
    agent.kube.guarded(guard).patch("Deployment", "catalog", {"spec": {"replicas": 3}}, "shop")
    agent.kube.patch("Deployment", "catalog", {"spec": {"replicas": 5}}, "shop")  # someone else, meanwhile

    recovering = executor(agent, settled, identity="agent-b")
    assert recovering.reconcile() == [execution_id]

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.FAILED and execution.effect == "unknown"
    (failure,) = failure_records(agent)
    assert failure["reason"] == "unknown_effect"
    (state,) = failure["states"]
    assert state["intent"]["want"] == {"spec": {"replicas": 3}}
    assert state["cluster"]["spec"]["replicas"] == 5
    assert catalog(settled)["spec"]["replicas"] == 5  # nothing was written over the other change


def test_a_run_claimed_but_never_started_is_run_by_recovery(agent: Agent, settled: RunningSim) -> None:
    execution_id = new_execution(agent)
    assert agent.store.executions.claim_execution(execution_id, "dead")  # ... and the process dies here

    recovering = executor(agent, settled, identity="agent-b")
    assert recovering.reconcile() == [execution_id]
    recovering.wait(timeout=30)

    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert execution.claimed_by == "agent-b" and (execution.intent or {}).get("attempts") == 2
    assert len(real_patches(settled)) == 1


def test_a_run_that_crashed_in_this_replica_is_recovered_by_the_next_dispatch(
    agent: Agent, settled: RunningSim
) -> None:
    agent.dispatch()  # leading already: what follows is no take-over's reconcile
    agent.executor.wait(timeout=30)
    execution_id = new_execution(agent)
    own = agent.executor.identity
    assert agent.store.executions.claim_execution(execution_id, own)
    agent.store.executions.mark_running(execution_id, own)  # ... and the run crashed here (the store failed)

    agent.dispatch()  # the same process, no restart

    def finished() -> bool:
        execution = agent.store.executions.get(execution_id)
        return execution is not None and execution.state is ExecutionState.SUCCEEDED

    deadline = time.monotonic() + 30
    while not finished() and time.monotonic() < deadline:
        settled.cluster.tick(10)
        time.sleep(0.1)
    execution = agent.store.executions.get(execution_id)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert (execution.intent or {}).get("attempts") == 2
    assert len(real_patches(settled)) == 1
