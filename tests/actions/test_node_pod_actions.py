"""evict_pod, drain_node and suspend_cronjob against simcluster over HTTP."""

from __future__ import annotations

import pytest

from actions.base import ActionLimits, ActionRefused
from actions.registry import get_action
from tests.actions import objects
from tests.actions.checks import dry_run_changes_nothing, real_writes_follow_dry_runs, second_run_changes_nothing
from tests.actions.conftest import Env

NS = objects.NS


def _pods(env: Env, app: str, node: str | None = None) -> list[dict]:
    pods = env.kube.list("Pod", NS, label_selector=f"app={app}")
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return [p for p in live if node is None or p["spec"].get("nodeName") == node]


@pytest.fixture
def estate(env: Env) -> Env:
    env.create(objects.deployment("web", replicas=2))
    env.create(objects.daemonset("agent"))
    env.settle()
    env.kube.writes.clear()
    return env


def test_evict_pod_evicts_through_the_eviction_api(estate: Env) -> None:
    env = estate
    name = _pods(env, "web")[0]["metadata"]["name"]
    params = {"namespace": NS, "name": name}
    action = get_action("evict_pod")
    checks = {name: c.holds for name, c in env.judge("evict_pod", params).items()}
    assert checks == {"target_exists": True, "has_controller": True}
    dry_run_changes_nothing(env, "evict_pod", params)
    outcome, parsed = env.run("evict_pod", params)

    assert outcome.changed
    assert [w[0] for w in env.kube.writes] == ["evict", "evict"]
    real_writes_follow_dry_runs(env)
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "evict_pod", params)
    assert action.inverse(parsed, outcome) is None
    env.settle()
    assert len(_pods(env, "web")) == 2, "the controller did not replace the evicted pod"


def test_evict_pod_blocked_by_a_pdb_is_refused_with_the_budgets_reason(estate: Env) -> None:
    env = estate
    env.create(objects.pdb("web-pdb", "web", 2))
    env.settle()
    name = _pods(env, "web")[0]["metadata"]["name"]
    revision = env.revision
    with pytest.raises(ActionRefused, match=r"PodDisruptionBudget blocks.*The disruption budget web-pdb needs 2"):
        env.run("evict_pod", {"namespace": NS, "name": name})
    assert env.revision == revision


def test_drain_cordons_evicts_all_but_daemonset_pods_and_the_inverse_uncordons(estate: Env) -> None:
    env = estate
    node = _pods(env, "web")[0]["spec"]["nodeName"]
    params = {"name": node, "evict_pods": True}
    action = get_action("drain_node")
    dry_run_changes_nothing(env, "drain_node", params)
    outcome, parsed = env.run("drain_node", params)

    assert outcome.changed and env.kube.get("Node", node)["spec"]["unschedulable"] is True
    assert outcome.after["remaining"] == [] and outcome.after["evicted"]
    real_writes_follow_dry_runs(env)
    env.settle()
    assert action.verify(env.ctx(), parsed, outcome).ok
    assert _pods(env, "web", node) == [] and len(_pods(env, "web")) == 2
    assert len(_pods(env, "agent", node)) == 1, "a DaemonSet pod was evicted"
    second_run_changes_nothing(env, "drain_node", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None and dict(undo.params) == {"name": node, "cordon": False}
    env.run(undo.action.value, dict(undo.params))
    assert env.kube.get("Node", node)["spec"].get("unschedulable") in (False, None)


def test_drain_never_evicts_a_pod_in_a_protected_namespace(estate: Env) -> None:
    env = estate
    node = _pods(env, "web")[0]["spec"]["nodeName"]
    system = objects.deployment("dns", replicas=1)
    system["metadata"]["namespace"] = "kube-system"
    system["spec"]["template"]["spec"]["nodeName"] = node
    if env.kube.try_get("Namespace", "kube-system") is None:
        env.create(objects.namespace("kube-system"))
    env.create(system)
    env.settle()
    [dns] = env.kube.list("Pod", "kube-system", label_selector="app=dns")
    assert dns["spec"]["nodeName"] == node
    outcome, _ = env.run("drain_node", {"name": node, "evict_pods": True})

    assert all(not item.startswith("kube-system/") for item in outcome.after["evicted"])
    after = env.kube.try_get("Pod", dns["metadata"]["name"], "kube-system")
    assert after is not None and not after["metadata"].get("deletionTimestamp")


def test_drain_refuses_beyond_the_eviction_cap_before_cordoning(estate: Env) -> None:
    env = estate
    env.limits = ActionLimits(max_drain_evictions=0)
    node = _pods(env, "web")[0]["spec"]["nodeName"]
    params = {"name": node, "evict_pods": True}
    assert not env.judge("drain_node", params)["evictions_within_limit"].holds
    revision = env.revision
    with pytest.raises(ActionRefused, match="pods to evict, at most 0"):
        env.run("drain_node", params)
    assert env.revision == revision


def test_drain_gives_up_cleanly_when_a_pdb_blocks_past_the_timeout(estate: Env) -> None:
    env = estate
    env.create(objects.pdb("web-pdb", "web", 2))
    env.settle()
    env.limits = ActionLimits(drain_timeout_seconds=20)
    node = _pods(env, "web")[0]["spec"]["nodeName"]
    stuck = {p["metadata"]["name"] for p in _pods(env, "web", node)}
    started = env.clock.now()
    outcome, parsed = env.run("drain_node", {"name": node, "evict_pods": True})

    assert (env.clock.now() - started).total_seconds() >= 20
    assert {r.split("/")[1] for r in outcome.after["remaining"]} == stuck
    assert "gave up" in outcome.detail
    assert env.kube.get("Node", node)["spec"]["unschedulable"] is True
    verdict = get_action("drain_node").verify(env.ctx(), parsed, outcome)
    assert not verdict.ok and "still on the node" in verdict.detail


def test_suspend_cronjob_and_the_inverse_resumes_it(env: Env) -> None:
    env.create(objects.cronjob("report"))
    env.tick()
    env.kube.writes.clear()
    params = {"namespace": NS, "name": "report", "suspend": True}
    action = get_action("suspend_cronjob")
    dry_run_changes_nothing(env, "suspend_cronjob", params)
    outcome, parsed = env.run("suspend_cronjob", params)

    assert outcome.changed and env.kube.get("CronJob", "report", NS)["spec"]["suspend"] is True
    real_writes_follow_dry_runs(env)
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "suspend_cronjob", params)
    undo = action.inverse(parsed, outcome)
    assert undo is not None
    env.run(undo.action.value, dict(undo.params))
    assert env.kube.get("CronJob", "report", NS)["spec"]["suspend"] is False
