"""restart_workload, scale_workload and set_resources against simcluster over HTTP."""

from __future__ import annotations

import pytest

from actions.base import ActionLimits, ActionRefused
from actions.registry import get_action
from tests.actions import objects
from tests.actions.checks import dry_run_changes_nothing, real_writes_follow_dry_runs, second_run_changes_nothing
from tests.actions.conftest import Env, RecordingKube

NS = objects.NS
RESTART = {"kind": "Deployment", "namespace": NS, "name": "web", "restart_token": "inc-7"}


def _template_annotations(env: Env) -> dict[str, str]:
    template = env.kube.get("Deployment", "web", NS)["spec"]["template"]
    return dict(template["metadata"].get("annotations") or {})


def _resources(env: Env) -> dict[str, dict[str, str]]:
    return env.kube.get("Deployment", "web", NS)["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.fixture
def web(env: Env) -> Env:
    env.create(objects.deployment("web", replicas=2))
    env.settle()
    env.kube.writes.clear()
    return env


def test_restart_rolls_the_pods_once_per_token(web: Env) -> None:
    env = web
    pods_before = {p["metadata"]["name"] for p in env.kube.list("Pod", NS)}
    dry_run_changes_nothing(env, "restart_workload", RESTART)
    outcome, parsed = env.run("restart_workload", RESTART)

    assert outcome.changed
    assert _template_annotations(env)["scutum.dev/restart-token"] == "inc-7"
    assert "kubectl.kubernetes.io/restartedAt" in _template_annotations(env)
    real_writes_follow_dry_runs(env)
    env.settle()
    assert get_action("restart_workload").verify(env.ctx(), parsed, outcome).ok
    assert not pods_before & {p["metadata"]["name"] for p in env.kube.list("Pod", NS)}
    second = second_run_changes_nothing(env, "restart_workload", RESTART)
    assert "already restarted" in second.detail
    assert get_action("restart_workload").inverse(parsed, outcome) is None

    again, _ = env.run("restart_workload", {**RESTART, "restart_token": "inc-8"})
    assert again.changed


def test_scale_sets_replicas_and_the_inverse_puts_them_back(web: Env) -> None:
    env = web
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "replicas": 4}
    action = get_action("scale_workload")
    dry_run_changes_nothing(env, "scale_workload", params)
    outcome, parsed = env.run("scale_workload", params)

    assert outcome.changed and env.kube.get("Deployment", "web", NS)["spec"]["replicas"] == 4
    env.settle()
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "scale_workload", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None
    env.run(undo.action.value, dict(undo.params))
    assert env.kube.get("Deployment", "web", NS)["spec"]["replicas"] == 2


def test_scale_refuses_above_the_operator_limit(web: Env) -> None:
    web.limits = ActionLimits(max_scale_replicas=3)
    with pytest.raises(ActionRefused, match="max_scale_replicas"):
        web.run("scale_workload", {"kind": "Deployment", "namespace": NS, "name": "web", "replicas": 4})


def test_hpa_bounds_beyond_the_operator_cap_are_refused_and_nothing_is_written(web: Env) -> None:
    env = web
    env.create(objects.hpa("web", 2, 5))
    env.settle()
    bounds = {"min_replicas": 10_000, "max_replicas": 10_000}
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "replicas": 6, "hpa_bounds": bounds}
    checks = env.judge("scale_workload", params)
    assert not checks["hpa_bounds_within_limit"].holds and checks["within_limit"].holds
    revision = env.revision
    with pytest.raises(ActionRefused, match=r"10000\.\.10000 against max_scale_replicas 50"):
        env.run("scale_workload", params)
    assert env.revision == revision
    hpa = env.kube.get("HorizontalPodAutoscaler", "web-hpa", NS)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)


def test_scale_moves_the_hpa_bounds_instead_of_fighting_it(web: Env) -> None:
    env = web
    env.create(objects.hpa("web", 2, 5))
    env.settle()
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "replicas": 6}
    action = get_action("scale_workload")
    dry_run_changes_nothing(env, "scale_workload", params)
    outcome, parsed = env.run("scale_workload", params)

    hpa = env.kube.get("HorizontalPodAutoscaler", "web-hpa", NS)["spec"]
    assert outcome.changed and (hpa["minReplicas"], hpa["maxReplicas"]) == (6, 6)
    env.settle()
    assert env.kube.get("Deployment", "web", NS)["spec"]["replicas"] == 6
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "scale_workload", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None
    env.run(undo.action.value, dict(undo.params))
    hpa = env.kube.get("HorizontalPodAutoscaler", "web-hpa", NS)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)


def test_set_resources_changes_one_container_and_the_inverse_restores_it(web: Env) -> None:
    env = web
    params = {
        "kind": "Deployment",
        "namespace": NS,
        "name": "web",
        "container": "app",
        "memory_request": "256Mi",
        "memory_limit": "0.5Gi",
    }
    action = get_action("set_resources")
    dry_run_changes_nothing(env, "set_resources", params)
    outcome, parsed = env.run("set_resources", params)

    assert outcome.changed
    assert _resources(env)["limits"]["memory"] == "0.5Gi" and _resources(env)["requests"]["cpu"] == "100m"
    env.settle()
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "set_resources", {**params, "memory_limit": "512Mi"})

    undo = action.inverse(parsed, outcome)
    assert undo is not None
    env.run(undo.action.value, dict(undo.params))
    assert _resources(env)["requests"]["memory"] == "128Mi" and _resources(env)["limits"]["memory"] == "256Mi"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"cpu_limit": "500m"}, "beyond"),
        ({"memory_request": "63Mi"}, "beyond"),
        ({"cpu_request": "200m", "cpu_limit": "150m"}, "below its request"),
    ],
)
def test_set_resources_refuses_unbounded_changes_and_limits_below_requests(web: Env, change: dict, reason: str) -> None:
    env = web
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "container": "app", **change}
    checks = env.judge("set_resources", params)
    assert not checks["within_bounds"].holds
    revision = env.revision
    with pytest.raises(ActionRefused, match=reason):
        env.run("set_resources", params)
    assert env.revision == revision


def test_a_conflicting_write_rereads_and_retries_once(web: Env) -> None:
    env = web

    class Interloper(RecordingKube):
        """Someone else changes the Deployment between our read and our real write."""

        meddled = False

        def replace(self, kind: str, name: str, body: dict, namespace: str | None = None, *, dry_run: bool = False):
            if not dry_run and not self.meddled:
                self.meddled = True
                env.kube.patch(kind, name, {"metadata": {"labels": {"touched": "yes"}}}, namespace)
            return super().replace(kind, name, body, namespace, dry_run=dry_run)

    kube = Interloper.from_url(env.sim.url)
    assert isinstance(kube, Interloper)
    action = get_action("set_resources")
    params = action.parse(
        {"kind": "Deployment", "namespace": NS, "name": "web", "container": "app", "cpu_limit": "300m"}
    )
    outcome = action.execute(env.ctx(kube=kube), params)

    assert outcome.changed and [w[2] for w in kube.writes] == [True, False, True, False]
    deployment = env.kube.get("Deployment", "web", NS)
    assert deployment["metadata"]["labels"]["touched"] == "yes", "the other writer's change was lost"
    assert _resources(env)["limits"]["cpu"] == "300m"
    kube.close()
