"""restore_configmap and restore_service against simcluster over HTTP, with a fake snapshot keeper."""

from __future__ import annotations

import pytest

from actions.base import ActionRefused
from actions.registry import get_action
from tests.actions import objects
from tests.actions.checks import dry_run_changes_nothing, real_writes_follow_dry_runs, second_run_changes_nothing
from tests.actions.conftest import Env

NS = objects.NS


def _consumer(name: str, how: str) -> dict:
    body = objects.deployment(name, replicas=1)
    spec = body["spec"]["template"]["spec"]
    app = spec["containers"][0]
    if how == "volume":
        spec["volumes"] = [{"name": "cfg", "configMap": {"name": "settings"}}]
    elif how == "projected":
        spec["volumes"] = [{"name": "cfg", "projected": {"sources": [{"configMap": {"name": "settings"}}]}}]
    elif how == "envFrom":
        app["envFrom"] = [{"configMapRef": {"name": "settings"}}]
    elif how == "env":
        ref = {"configMapKeyRef": {"name": "settings", "key": "mode"}}
        app["env"] = [{"name": "MODE", "valueFrom": ref}]
    elif how == "init":
        spec["initContainers"] = [
            {"name": "init", "image": "busybox", "envFrom": [{"configMapRef": {"name": "settings"}}]}
        ]
    return body


def _changed_configmap(env: Env) -> str:
    env.create(objects.configmap("settings", {"mode": "fast"}))
    for index, how in enumerate(["volume", "projected", "envFrom", "env", "init"]):
        env.create(_consumer(f"c{index}", how))
    env.create(objects.deployment("bystander", replicas=1))
    env.settle()
    env.keeper.record(env.kube.get("ConfigMap", "settings", NS) | {"kind": "ConfigMap"})
    env.tick(60)
    before = env.clock.now().isoformat()
    env.tick(1)
    bad = env.kube.get("ConfigMap", "settings", NS)
    bad["data"] = {"mode": "broken"}
    env.kube.replace("ConfigMap", "settings", bad, NS)
    env.keeper.record(env.kube.get("ConfigMap", "settings", NS) | {"kind": "ConfigMap"})
    env.settle()
    env.kube.writes.clear()
    return before


def test_restore_configmap_restores_data_and_restarts_every_consumer(env: Env) -> None:
    before = _changed_configmap(env)
    params = {"namespace": NS, "name": "settings", "before": before}
    action = get_action("restore_configmap")
    dry_run_changes_nothing(env, "restore_configmap", params)
    env.tick(1)
    outcome, parsed = env.run("restore_configmap", params)

    assert outcome.changed and env.kube.get("ConfigMap", "settings", NS)["data"] == {"mode": "fast"}
    assert sorted(r["name"] for r in outcome.after["restarted"]) == ["c0", "c1", "c2", "c3", "c4"]
    bystander = env.kube.get("Deployment", "bystander", NS)["spec"]["template"]["metadata"]
    assert "scutum.dev/restart-token" not in (bystander.get("annotations") or {})
    real_writes_follow_dry_runs(env)
    env.settle()
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "restore_configmap", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None and undo.params["before"] == outcome.before["restored_at"]
    env.keeper.record(env.kube.get("ConfigMap", "settings", NS) | {"kind": "ConfigMap"})
    env.tick(1)
    env.run(undo.action.value, dict(undo.params))
    assert env.kube.get("ConfigMap", "settings", NS)["data"] == {"mode": "broken"}


def test_restore_configmap_without_a_snapshot_is_refused(env: Env) -> None:
    env.create(objects.configmap("settings", {"mode": "fast"}))
    params = {"namespace": NS, "name": "settings", "before": env.clock.now().isoformat()}
    with pytest.raises(ActionRefused, match="no snapshot of ConfigMap shop/settings"):
        env.run("restore_configmap", params)


def _service_then_break(env: Env, *, delete: bool) -> str:
    env.create(objects.deployment("web", replicas=1))
    env.create(objects.service("web", {"app": "web"}))
    env.settle()
    env.keeper.record(env.kube.get("Service", "web", NS) | {"kind": "Service"})
    env.tick(60)
    before = env.clock.now().isoformat()
    env.tick(1)
    if delete:
        env.kube.delete("Service", "web", NS)
    else:
        svc = env.kube.get("Service", "web", NS)
        svc["spec"]["selector"] = {"app": "typo"}
        svc["spec"]["ports"][0]["targetPort"] = 9999
        env.kube.replace("Service", "web", svc, NS)
        env.keeper.record(env.kube.get("Service", "web", NS) | {"kind": "Service"})
    env.settle()
    env.kube.writes.clear()
    return before


def test_restore_service_restores_selector_and_ports_and_the_inverse_undoes_it(env: Env) -> None:
    before = _service_then_break(env, delete=False)
    params = {"namespace": NS, "name": "web", "before": before}
    action = get_action("restore_service")
    dry_run_changes_nothing(env, "restore_service", params)
    env.tick(1)
    outcome, parsed = env.run("restore_service", params)

    spec = env.kube.get("Service", "web", NS)["spec"]
    assert outcome.changed and spec["selector"] == {"app": "web"} and spec["ports"][0]["targetPort"] == 8080
    real_writes_follow_dry_runs(env)
    assert action.verify(env.ctx(), parsed, outcome).ok
    second_run_changes_nothing(env, "restore_service", params)

    undo = action.inverse(parsed, outcome)
    assert undo is not None
    env.keeper.record(env.kube.get("Service", "web", NS) | {"kind": "Service"})
    env.tick(1)
    env.run(undo.action.value, dict(undo.params))
    assert env.kube.get("Service", "web", NS)["spec"]["selector"] == {"app": "typo"}


def test_restore_service_recreates_a_deleted_service(env: Env) -> None:
    before = _service_then_break(env, delete=True)
    old_ip = env.keeper.versions[0][4]["spec"].get("clusterIP")
    params = {"namespace": NS, "name": "web", "before": before}
    action = get_action("restore_service")
    dry_run_changes_nothing(env, "restore_service", params)
    outcome, parsed = env.run("restore_service", params)

    svc = env.kube.get("Service", "web", NS)
    assert outcome.changed and "re-created" in outcome.detail
    assert svc["spec"]["selector"] == {"app": "web"}
    assert old_ip is None or svc["metadata"]["uid"] != env.keeper.versions[0][4]["metadata"]["uid"]
    assert action.verify(env.ctx(), parsed, outcome).ok
    assert action.inverse(parsed, outcome) is None
    second_run_changes_nothing(env, "restore_service", params)
