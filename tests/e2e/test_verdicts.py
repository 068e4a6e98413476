"""Whole incidents through the real Alertmanager: each way a decision can go, end to end.

simcluster breaks something, its alerts go to Alertmanager, the agent polls Alertmanager's
`GET /api/v2/alerts`, plans, scores, decides and (where allowed) acts on the cluster.
"""

from __future__ import annotations

from typing import Any

from agent.app import Agent
from agent.audit import AuditKind
from agent.evaluate import Outcome
from approvals import cli_channel
from approvals.model import ApprovalState
from tests.e2e.alertmanager import RUN_LABEL
from tests.e2e.world import APPROVER, World, about, executions

AUTO_EXECUTE_SHOP = {"namespaces": {"shop": {"execute_max": 0.79}}}
"""A rollback in shop scores about 0.72: under this threshold it runs without asking."""


def frontend_image(world: World) -> str:
    deployment = world.sim.cluster.store.get("Deployment", "shop", "frontend")
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def audit_kinds(agent: Agent) -> list[str]:
    return [record.kind for record in agent.store.audit.records()]


def break_frontend(world: World) -> None:
    world.sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")


def test_low_risk_rollback_runs_without_approval_and_the_incident_resolves(world: World) -> None:
    agent = world.agent(world.settings(policy=AUTO_EXECUTE_SHOP))
    break_frontend(world)

    handled = world.poll_until(agent, about("frontend", namespace="shop"))

    assert handled.evaluation.outcome is Outcome.EXECUTE
    assert handled.approval_id is None and handled.execution_id is not None
    assert all(RUN_LABEL in alert.labels for alert in handled.evaluation.incident.alerts.values())
    agent.executor.wait(timeout=60)
    (execution,) = executions(agent)
    assert execution.action == "rollback_workload"
    assert execution.state.value == "succeeded"
    assert frontend_image(world).endswith(":1.4.2")
    world.step()  # the rollout finished: the cluster stops firing, Alertmanager hears it resolved
    agent.poll_once()
    incident = agent.pipeline.intake.get(handled.evaluation.incident.id)
    assert incident is not None and incident.state.value != "open"
    assert agent.pipeline.intake.open_incidents() == []
    assert not world.alertmanager.alerts(filter=f'{RUN_LABEL}="{world.pusher.run}"')
    assert agent.audit.verify().ok
    assert {"execution", "verification"} <= set(audit_kinds(agent))


def test_rollback_waits_for_approval_and_runs_once_approved(world: World) -> None:
    agent = world.agent(world.settings())
    break_frontend(world)

    handled = world.poll_until(agent, about("frontend", namespace="shop"))

    assert handled.evaluation.outcome is Outcome.APPROVE
    assert handled.approval_id is not None and handled.execution_id is None
    assert executions(agent) == []
    assert frontend_image(world).endswith(":doesnotexist")
    vote = cli_channel.approve(agent.approvals, handled.approval_id, as_user=APPROVER, now=agent.clock())
    assert vote.result == "approved"
    assert executions(agent) == []  # the vote runs nothing itself: the leader's dispatch does
    agent.dispatch()
    agent.executor.wait(timeout=60)
    (execution,) = executions(agent)
    assert execution.state.value == "succeeded"
    assert frontend_image(world).endswith(":1.4.2")
    request = agent.approvals.get(handled.approval_id)
    assert request is not None and request.state is ApprovalState.SUCCEEDED
    assert agent.audit.verify().ok


def test_rejected_request_never_touches_the_cluster(world: World) -> None:
    agent = world.agent(world.settings())
    break_frontend(world)
    handled = world.poll_until(agent, about("frontend", namespace="shop"))
    assert handled.approval_id is not None
    generation = world.sim.cluster.store.get("Deployment", "shop", "frontend")["metadata"]["generation"]

    vote = cli_channel.reject(agent.approvals, handled.approval_id, as_user=APPROVER, now=agent.clock())

    assert vote.result == "rejected"
    world.step()
    later = agent.poll_once()
    agent.executor.wait(timeout=30)
    assert all(h.execution_id is None for h in later)
    assert executions(agent) == []
    assert world.sim.cluster.store.get("Deployment", "shop", "frontend")["metadata"]["generation"] == generation
    request = agent.approvals.get(handled.approval_id)
    assert request is not None and request.state is ApprovalState.REJECTED


def test_unanswered_request_expires_escalates_and_refuses_a_late_approval(world: World) -> None:
    agent = world.agent(world.settings(approvals={"timeout_seconds": 120.0}))
    break_frontend(world)
    handled = world.poll_until(agent, about("frontend", namespace="shop"))
    assert handled.approval_id is not None
    assert agent.sweep_approvals() == []

    world.step(150)
    expired = agent.sweep_approvals()

    assert [r.id for r in expired] == [handled.approval_id]
    assert expired[0].state is ApprovalState.EXPIRED
    assert AuditKind.APPROVAL_EXPIRED.value in audit_kinds(agent)
    late = cli_channel.approve(agent.approvals, handled.approval_id, as_user=APPROVER, now=agent.clock())
    assert late.result == "expired" and late.exit_code == 1
    agent.executor.wait(timeout=30)
    assert executions(agent) == []
    assert frontend_image(world).endswith(":doesnotexist")


def test_protected_namespace_is_denied_and_told_to_humans(world: World) -> None:
    told: list[str] = []
    policy: dict[str, Any] = {"execute_max": 0.79}  # even a permissive threshold cannot override the veto
    agent = world.agent(world.settings(policy=policy), escalations=told)
    world.sim.cluster.inject("bad_image_rollout", namespace="kube-system", deployment="coredns")

    handled = world.poll_until(agent, about("coredns", namespace="kube-system"))

    assert handled.evaluation.outcome is Outcome.DENY
    assert any("protected" in reason for reason in handled.evaluation.reasons)
    assert handled.execution_id is None and handled.approval_id is None
    assert any(handled.evaluation.incident.id in notice and "denied by policy" in notice for notice in told)
    agent.executor.wait(timeout=30)
    assert executions(agent) == []


def test_alert_with_no_fitting_action_escalates_and_changes_nothing(world: World) -> None:
    told: list[str] = []
    agent = world.agent(world.settings(policy={"execute_max": 0.79}), escalations=told)
    injected = world.sim.cluster.inject("pod_stuck_terminating")
    pod = injected["params"]["pod"]

    handled = world.poll_until(
        agent, lambda h: h.evaluation.incident.target is not None and h.evaluation.incident.target.name == pod
    )

    assert handled.evaluation.outcome is Outcome.ESCALATE
    assert handled.evaluation.proposal is None
    assert any(handled.evaluation.incident.id in notice for notice in told)
    assert AuditKind.ESCALATION.value in audit_kinds(agent)
    assert executions(agent) == []
