"""rollback_workload against simcluster over HTTP: the template serving before the incident comes back."""

from __future__ import annotations

from typing import Any

import pytest

from actions.base import ActionRefused, WorkloadKind
from actions.kube import PatchType
from actions.registry import get_action
from tests.actions import objects
from tests.actions.checks import dry_run_changes_nothing, real_writes_follow_dry_runs, second_run_changes_nothing
from tests.actions.conftest import Env

NS = objects.NS


def _image(env: Env, kind: str, name: str) -> str:
    return str(env.kube.get(kind, name, NS)["spec"]["template"]["spec"]["containers"][0]["image"])


def _set_image(env: Env, kind: str, name: str, image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    env.kube.patch(kind, name, patch, NS, patch_type=PatchType.STRATEGIC)


def _params(kind: str, name: str, env: Env, before: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "namespace": NS, "name": name, "before": before, **extra}


def _bad_change_after_good(env: Env, body: dict[str, Any]) -> str:
    """Create the workload healthy, let it serve, then roll out a broken image; returns `before`."""
    env.create(body)
    env.settle()
    env.tick(300)
    before = env.clock.now().isoformat()
    env.tick(1)
    _set_image(env, body["kind"], body["metadata"]["name"], "shop/app:broken")
    env.settle()
    return before


def test_rollback_targets_revision_before_incident_after_patch_then_restart(env: Env) -> None:
    before = _bad_change_after_good(env, objects.deployment("web"))
    env.run("restart_workload", {"kind": "Deployment", "namespace": NS, "name": "web", "restart_token": "inc-1"})
    env.settle()
    params = _params("Deployment", "web", env, before)
    action = get_action("rollback_workload")

    dry_run_changes_nothing(env, "rollback_workload", params)
    env.kube.writes.clear()
    outcome, parsed = env.run("rollback_workload", params)

    assert outcome.changed and outcome.after["source"] == "history"
    assert _image(env, "Deployment", "web") == "shop/web:1.0"
    annotations = env.kube.get("Deployment", "web", NS)["spec"]["template"]["metadata"].get("annotations") or {}
    assert "scutum.dev/restart-token" not in annotations, "landed on the restarted bad template"
    real_writes_follow_dry_runs(env)
    env.settle()
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "rollback_workload", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None and undo.params["to_revision"] == outcome.before["revision"]
    env.tick(5)
    undone, _ = env.run(undo.action.value, dict(undo.params))
    assert undone.changed
    assert _image(env, "Deployment", "web") == "shop/app:broken"
    restored = env.kube.get("Deployment", "web", NS)["spec"]["template"]["metadata"]["annotations"]
    assert restored["scutum.dev/restart-token"] == "inc-1"


def test_rollback_uses_the_snapshot_when_the_workload_was_deleted_and_recreated(env: Env) -> None:
    env.create(objects.deployment("web"))
    env.settle()
    env.keeper.record(env.kube.get("Deployment", "web", NS) | {"kind": "Deployment"})
    env.tick(300)
    before = env.clock.now().isoformat()
    env.tick(1)
    env.kube.delete("Deployment", "web", NS)
    env.settle()
    env.create(objects.deployment("web", image="shop/app:broken"))
    env.settle()
    params = _params("Deployment", "web", env, before)

    dry_run_changes_nothing(env, "rollback_workload", params)
    outcome, parsed = env.run("rollback_workload", params)

    assert outcome.changed and outcome.after["source"] == "snapshot"
    assert _image(env, "Deployment", "web") == "shop/web:1.0"
    env.settle()
    assert get_action("rollback_workload").verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "rollback_workload", params)


def test_rollback_refuses_with_no_history_and_no_snapshot(env: Env) -> None:
    before = env.clock.now().isoformat()
    env.tick(5)
    env.create(objects.deployment("web", image="shop/app:broken"))
    env.settle()
    action = get_action("rollback_workload")
    parsed = action.parse(_params("Deployment", "web", env, before))

    checks = env.judge("rollback_workload", _params("Deployment", "web", env, before))
    assert checks["target_exists"].holds and not checks["known_good_template"].holds
    revision = env.revision
    with pytest.raises(ActionRefused, match="no revision of Deployment shop/web was serving before"):
        action.execute(env.ctx(), parsed)
    assert env.revision == revision


def test_statefulset_rollback_replaces_the_pod_stuck_on_the_bad_revision(env: Env) -> None:
    before = _bad_change_after_good(env, objects.statefulset("db"))
    params = _params("StatefulSet", "db", env, before)

    dry_run_changes_nothing(env, "rollback_workload", params)
    outcome, parsed = env.run("rollback_workload", params)

    assert outcome.changed and _image(env, "StatefulSet", "db") == "shop/db:1.0"
    assert any("stuck on the bad revision" in call for call in outcome.api_calls)
    env.settle(passes=30)
    verdict = get_action("rollback_workload").verify(env.ctx(), parsed, outcome)
    assert verdict.ok, verdict.detail
    second_run_changes_nothing(env, "rollback_workload", params)


@pytest.mark.parametrize("kind", [WorkloadKind.DAEMONSET, WorkloadKind.STATEFULSET])
def test_rollback_of_controller_revision_workloads_and_its_inverse(env: Env, kind: WorkloadKind) -> None:
    body = objects.daemonset("agent") if kind == WorkloadKind.DAEMONSET else objects.statefulset("agent")
    good = body["spec"]["template"]["spec"]["containers"][0]["image"]
    before = _bad_change_after_good(env, body)
    params = _params(kind.value, "agent", env, before)
    action = get_action("rollback_workload")

    outcome, parsed = env.run("rollback_workload", params)
    assert outcome.changed and _image(env, kind.value, "agent") == good
    env.settle(passes=30)
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "rollback_workload", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None
    undone, _ = env.run(undo.action.value, dict(undo.params))
    assert undone.changed and _image(env, kind.value, "agent") == "shop/app:broken"
