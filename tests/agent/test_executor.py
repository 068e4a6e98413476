"""The executor against the simulated cluster over HTTP: claims, re-validation, the kill switch,
refusals, and reconciliation after a restart. Time is the cluster's manual clock; the executor's
verification pauses tick the cluster instead of sleeping."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.registry import parse_invocation
from agent.app import Agent, build_agent
from agent.audit import AuditKind
from agent.outcomes import outcome_json
from agent.settings import load_settings
from agent.store import Execution, ExecutionState
from approvals import cli_channel
from approvals.authz import ApproverPolicy
from approvals.model import ApprovalState
from approvals.queue import ApprovalQueue
from risk.model import Proposal
from risk.settings import PolicySettings
from simcluster.harness import RunningSim

APPROVER = "oncall"
PERMISSIVE = {"execute_max": 0.79, "deny_min": 0.95}
"""Thresholds under which scaling catalog runs without asking."""


def sim_agent(
    sim: RunningSim,
    data_dir: Path,
    *,
    identity: str = "agent-a",
    policy: dict[str, Any] | None = None,
    revalidation_margin: float = 0.15,
) -> Agent:
    """An agent on the simulated cluster and a SQLite store in `data_dir`, not started."""
    base = load_settings(None, env={})
    settings = base.model_copy(
        update={
            "data_dir": data_dir,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "agent": base.agent.model_copy(update={"identity": identity}),
            "approvals": base.approvals.model_copy(
                update={"cli_approvers": (APPROVER,), "revalidation_margin": revalidation_margin}
            ),
            "policy": PolicySettings.model_validate({**base.policy.model_dump(), **(policy or PERMISSIVE)}),
        }
    )
    return build_agent(
        settings,
        clock=sim.cluster.clock.now,
        use_cache=False,
        sleep=lambda seconds: sim.cluster.tick(10),
        verify_timeout_seconds=20.0,
    )


@pytest.fixture
def settled(sim: RunningSim) -> RunningSim:
    """The sample estate, healthy, an hour old."""
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


def scale_catalog(agent: Agent, replicas: int = 3) -> Proposal:
    action, params = parse_invocation(
        "scale_workload", {"namespace": "shop", "name": "catalog", "kind": "Deployment", "replicas": replicas}
    )
    return Proposal(action.name, params, action.target(params), agent.clock())


def catalog(sim: RunningSim) -> dict[str, Any]:
    deployment: dict[str, Any] = sim.cluster.store.get("Deployment", "shop", "catalog")
    return deployment


def only_execution(agent: Agent) -> Execution:
    (execution,) = agent.store.executions.recent(agent.clock().replace(year=2000))
    return execution


def executed_records(agent: Agent) -> list[dict[str, Any]]:
    """Execution records of runs that acted (a failed or refused run's record says `failed`)."""
    return [
        r.payload
        for r in agent.store.audit.records()
        if r.kind == AuditKind.EXECUTION.value and not r.payload.get("failed")
    ]


def failure_records(agent: Agent) -> list[dict[str, Any]]:
    """Execution records of failed or refused runs."""
    return [
        r.payload
        for r in agent.store.audit.records()
        if r.kind == AuditKind.EXECUTION.value and r.payload.get("failed")
    ]


def record_execution(agent: Agent, proposal: Proposal) -> str:
    """A pending execution row, as the pipeline leaves it for the executor."""
    return agent.store.executions.create(
        action=proposal.action.value,
        params=proposal.params.model_dump(mode="json"),
        target_kind=proposal.target.kind,
        target_name=proposal.target.name,
        target_namespace=proposal.target.namespace,
    ).id


def test_auto_approved_action_acts_once_and_is_verified(agent: Agent, settled: RunningSim) -> None:
    execution_id = agent.executor.submit_new(scale_catalog(agent), None, proposal_id=None)
    agent.executor.wait(timeout=30)

    execution = only_execution(agent)
    assert execution.id == execution_id and execution.state is ExecutionState.SUCCEEDED
    assert catalog(settled)["spec"]["replicas"] == 3
    assert (execution.verification or {}).get("ok") is True
    assert len(executed_records(agent)) == 1


def test_only_one_of_two_replicas_claims_an_execution(settled: RunningSim, tmp_path: Path) -> None:
    first = sim_agent(settled, tmp_path / "data", identity="agent-a")
    second = sim_agent(settled, tmp_path / "data", identity="agent-b")
    try:
        execution_id = record_execution(first, scale_catalog(first))
        generation = catalog(settled)["metadata"]["generation"]
        start = threading.Barrier(2)

        def run(agent: Agent) -> None:
            start.wait()
            agent.executor.run(execution_id)

        threads = [threading.Thread(target=run, args=(a,)) for a in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        execution = only_execution(first)
        assert execution.claimed_by in ("agent-a", "agent-b")
        assert execution.state is ExecutionState.SUCCEEDED
        assert len(executed_records(first)) == 1
        assert catalog(settled)["metadata"]["generation"] == generation + 1
    finally:
        first.stop()
        second.stop()


def test_running_an_execution_again_does_not_act_again(agent: Agent, settled: RunningSim) -> None:
    execution_id = agent.executor.submit_new(scale_catalog(agent), None, proposal_id=None)
    agent.executor.wait(timeout=30)
    generation = catalog(settled)["metadata"]["generation"]

    agent.executor.run(execution_id)

    assert catalog(settled)["metadata"]["generation"] == generation
    assert len(executed_records(agent)) == 1


def test_approved_action_is_asked_again_when_its_risk_rose(settled: RunningSim, tmp_path: Path) -> None:
    agent = sim_agent(settled, tmp_path / "data", revalidation_margin=0.05)
    proposal = scale_catalog(agent)
    risk, _ = agent.pipeline.evaluator.rescore(proposal, None, now=agent.clock())
    assert risk.total > 0.05
    seen_by_approver = dataclasses.replace(risk, total=0.0)  # what the approver saw was lower
    request = agent.approvals.request(
        proposal, seen_by_approver, incident_id="inc-1", incident_summary="test", threshold=0.3, now=agent.clock()
    )

    vote = cli_channel.approve(agent.approvals, request.id, as_user=APPROVER, now=agent.clock())
    agent.dispatch()  # the leader picks the approved request up from the store
    agent.executor.wait(timeout=30)

    assert vote.result == "approved"
    execution = only_execution(agent)
    assert execution.state is ExecutionState.REFUSED
    assert "risk rose" in str((execution.outcome or {}).get("refused"))
    assert catalog(settled)["spec"]["replicas"] == 2
    pending = agent.approvals.repository.list(state=ApprovalState.PENDING)
    assert [(r.incident_id, r.action.value) for r in pending] == [("inc-1", "scale_workload")]
    assert pending[0].id != request.id
    agent.stop()


def test_an_approved_action_whose_precondition_fails_is_refused_with_its_reason(
    settled: RunningSim, tmp_path: Path
) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    proposal = scale_catalog(agent, replicas=3)
    risk, decision = agent.pipeline.evaluator.rescore(proposal, None, now=agent.clock())
    assert not decision.failed_preconditions
    request = agent.approvals.request(
        proposal, risk, incident_id="inc-1", incident_summary="test", threshold=0.3, now=agent.clock()
    )
    settled.cluster.store.delete("Deployment", "shop", "catalog")  # gone between approval and execution

    cli_channel.approve(agent.approvals, request.id, as_user=APPROVER, now=agent.clock())
    agent.dispatch()  # the leader picks the approved request up from the store
    agent.executor.wait(timeout=30)

    execution = only_execution(agent)
    assert execution.state is ExecutionState.REFUSED
    assert "precondition target_exists failed" in str((execution.outcome or {}).get("refused"))
    assert executed_records(agent) == []
    agent.stop()


def test_approved_hpa_bounds_above_the_cap_are_refused_at_execution(settled: RunningSim, tmp_path: Path) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    bounds = {"min_replicas": 10_000, "max_replicas": 10_000}
    action, params = parse_invocation(
        "scale_workload",
        {"namespace": "shop", "name": "catalog", "kind": "Deployment", "replicas": 3, "hpa_bounds": bounds},
    )
    proposal = Proposal(action.name, params, action.target(params), agent.clock())
    risk, decision = agent.pipeline.evaluator.rescore(proposal, None, now=agent.clock())
    assert [c.name for c in decision.failed_preconditions] == ["hpa_bounds_within_limit"]
    seen_by_approver = dataclasses.replace(risk, total=0.5)  # however it got approved
    request = agent.approvals.request(
        proposal, seen_by_approver, incident_id="inc-1", incident_summary="test", threshold=0.3, now=agent.clock()
    )

    cli_channel.approve(agent.approvals, request.id, as_user=APPROVER, now=agent.clock())
    agent.dispatch()  # the leader picks the approved request up from the store
    agent.executor.wait(timeout=30)

    execution = only_execution(agent)
    assert execution.state is ExecutionState.REFUSED
    assert "hpa_bounds_within_limit" in str((execution.outcome or {}).get("refused"))
    assert catalog(settled)["spec"]["replicas"] == 2 and executed_records(agent) == []
    agent.stop()


def test_kill_switch_stops_execution_and_the_refusal_is_not_an_action(agent: Agent, settled: RunningSim) -> None:
    proposal = scale_catalog(agent)
    agent.kill_switch.pause(reason="incident review", by="lead")

    agent.executor.submit_new(proposal, None, proposal_id=None)
    agent.executor.wait(timeout=30)

    execution = only_execution(agent)
    assert execution.state is ExecutionState.REFUSED
    assert (execution.outcome or {}).get("refused") == "kill switch engaged"
    assert catalog(settled)["spec"]["replicas"] == 2
    assert executed_records(agent) == []
    assert [(f["reason"], f["error"]) for f in failure_records(agent)] == [("refused", "kill switch engaged")]
    since = agent.clock().replace(year=2000)
    assert list(agent.store.history.action_times(since=since, target=proposal.target)) == []

    agent.kill_switch.resume(by="lead")
    agent.executor.submit_new(scale_catalog(agent), None, proposal_id=None)
    agent.executor.wait(timeout=30)
    assert catalog(settled)["spec"]["replicas"] == 3  # no cooldown from the refused run


def test_reconcile_settles_interrupted_executions_without_acting(agent: Agent, settled: RunningSim) -> None:
    store = agent.store.executions
    claimed = record_execution(agent, scale_catalog(agent, 4))
    assert store.claim_execution(claimed, "agent-a")
    running = record_execution(agent, scale_catalog(agent, 3))
    assert store.claim_execution(running, "agent-a")
    store.mark_running(running, "agent-a")
    action, params = parse_invocation("scale_workload", store.get(running).params)  # type: ignore[union-attr]
    outcome = action.execute(agent.executor._ctx, params)  # the crashed replica had acted before dying
    agent.store.executions.record_outcome(running, "agent-a", outcome_json(outcome))  # as the executor does
    generation = catalog(settled)["metadata"]["generation"]

    done = agent.executor.reconcile()
    agent.executor.wait(timeout=30)

    assert sorted(done) == sorted([claimed, running])
    assert store.get(claimed).state is ExecutionState.REFUSED  # type: ignore[union-attr]
    resumed = store.get(running)
    assert resumed is not None and resumed.state is ExecutionState.SUCCEEDED
    assert (resumed.outcome or {}).get("reconciled") is True
    assert catalog(settled)["metadata"]["generation"] == generation
    assert catalog(settled)["spec"]["replicas"] == 3
    assert store.unfinished() == []


def test_reconcile_starts_executions_nobody_claimed(agent: Agent, settled: RunningSim) -> None:
    pending = record_execution(agent, scale_catalog(agent))

    assert agent.executor.reconcile() == []
    agent.executor.wait(timeout=30)

    execution = agent.store.executions.get(pending)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED
    assert catalog(settled)["spec"]["replicas"] == 3


def test_a_standby_leaves_executions_to_the_leader(settled: RunningSim, tmp_path: Path) -> None:
    agent = sim_agent(settled, tmp_path / "data")
    agent.executor._is_leader = lambda: False
    try:
        execution_id = record_execution(agent, scale_catalog(agent))
        agent.executor.run(execution_id)
        execution = agent.store.executions.get(execution_id)
        assert execution is not None and execution.state is ExecutionState.PENDING
        assert catalog(settled)["spec"]["replicas"] == 2
    finally:
        agent.stop()


def test_reconcile_judges_an_interrupted_rollback_from_the_cluster(agent: Agent, settled: RunningSim) -> None:
    before = settled.cluster.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    settled.cluster.tick(60)
    settled.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
    settled.cluster.settle(passes=3, seconds=5.0)
    action, params = parse_invocation(
        "rollback_workload", {"namespace": "shop", "name": "frontend", "kind": "Deployment", "before": before}
    )
    proposal = Proposal(action.name, params, action.target(params), agent.clock())
    running = record_execution(agent, proposal)
    assert agent.store.executions.claim_execution(running, "agent-a")
    agent.store.executions.mark_running(running, "agent-a")
    outcome = action.execute(agent.executor._ctx, params)  # the crashed replica had acted before dying
    agent.store.executions.record_outcome(running, "agent-a", outcome_json(outcome))  # as the executor does

    agent.executor.reconcile()

    execution = agent.store.executions.get(running)
    assert execution is not None and execution.state is ExecutionState.SUCCEEDED


def test_a_request_approved_in_another_process_is_run_by_the_leaders_dispatch(
    agent: Agent, settled: RunningSim
) -> None:
    proposal = scale_catalog(agent)
    risk, _ = agent.pipeline.evaluator.rescore(proposal, None, now=agent.clock())
    request = agent.approvals.request(
        proposal, risk, incident_id="inc-2", incident_summary="test", threshold=0.3, now=agent.clock()
    )
    # `scutum approvals approve` runs as its own process: its queue has no executor behind it.
    cli_queue = ApprovalQueue(
        agent.store.approvals,
        agent.settings.approvals,
        policy=ApproverPolicy(agent.settings.approvals),
        audit=lambda event, details: None,
    )
    assert cli_channel.approve(cli_queue, request.id, as_user=APPROVER, now=agent.clock()).exit_code == 0
    assert agent.store.executions.recent(agent.clock().replace(year=2000)) == []

    agent.dispatch()
    agent.dispatch()  # a second pass finds it already in hand
    agent.executor.wait(timeout=30)

    execution = only_execution(agent)
    assert execution.state is ExecutionState.SUCCEEDED
    assert catalog(settled)["spec"]["replicas"] == 3
    assert agent.approvals.get(request.id).state is ApprovalState.SUCCEEDED  # type: ignore[union-attr]


def test_an_approved_run_recorded_before_a_restart_runs_once_and_keeps_its_approval(
    settled: RunningSim, tmp_path: Path
) -> None:
    first = sim_agent(settled, tmp_path / "data")
    proposal = scale_catalog(first, replicas=3)
    risk, _ = first.pipeline.evaluator.rescore(proposal, None, now=first.clock())
    request = first.approvals.request(
        proposal, risk, incident_id="inc-1", incident_summary="test", threshold=0.3, now=first.clock()
    )
    cli_channel.approve(first.approvals, request.id, as_user=APPROVER, now=first.clock())
    # The leader recorded the run for the approved request, then died before running it.
    first.store.executions.create(
        action=proposal.action.value,
        params=proposal.params.model_dump(mode="json"),
        target_kind=proposal.target.kind,
        target_name=proposal.target.name,
        target_namespace=proposal.target.namespace,
        incident_id="inc-1",
        approval_request_id=request.id,
    )
    first.stop()

    second = sim_agent(settled, tmp_path / "data")
    second.dispatch()
    second.dispatch()
    second.executor.wait(timeout=30)

    (execution,) = second.store.executions.recent(second.clock().replace(year=2000))
    assert execution.state is ExecutionState.SUCCEEDED
    stored = second.store.approvals.get(request.id)
    assert stored is not None and stored.state is ApprovalState.SUCCEEDED  # run as the approved request, once
    assert catalog(settled)["spec"]["replicas"] == 3
    second.stop()
