"""The simulated API server through the official Kubernetes Python client, over HTTP."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.watch
import pytest
from kubernetes.client.exceptions import ApiException

from simcluster.harness import RunningSim

NS = "team"


def _deployment(name: str, *, labels: dict[str, str] | None = None, image: str = "nginx:1.25") -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "main", "image": image}]}},
        },
    }


def _configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": "v"}}


@pytest.fixture
def client(bare_sim: RunningSim) -> Iterator[kubernetes.client.ApiClient]:
    api = kubernetes.config.new_client_from_config(config_file=str(bare_sim.kubeconfig_path))
    core = kubernetes.client.CoreV1Api(api)
    try:
        core.create_namespace({"metadata": {"name": NS}})
    except ApiException as exc:
        assert exc.status == 409
    yield api
    api.close()


@pytest.fixture
def core(client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(client)


@pytest.fixture
def apps(client: kubernetes.client.ApiClient) -> kubernetes.client.AppsV1Api:
    return kubernetes.client.AppsV1Api(client)


def _status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def test_create_get_and_missing_object_is_404_status(core: kubernetes.client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(NS, _configmap("settings"))
    assert created.metadata.uid and created.metadata.resource_version
    got = core.read_namespaced_config_map("settings", NS)
    assert got.data == {"k": "v"} and got.metadata.uid == created.metadata.uid
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", NS)
    assert missing.value.status == 404
    status = _status_of(missing.value)
    assert status["kind"] == "Status" and status["reason"] == "NotFound" and status["code"] == 404


def test_create_with_generate_name_picks_a_fresh_name(core: kubernetes.client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map(NS, {"metadata": {"generateName": "job-"}})
    second = core.create_namespaced_config_map(NS, {"metadata": {"generateName": "job-"}})
    assert first.metadata.name.startswith("job-") and first.metadata.name != second.metadata.name


def test_create_existing_object_is_409_already_exists(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, _configmap("dup"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(NS, _configmap("dup"))
    assert exists.value.status == 409 and _status_of(exists.value)["reason"] == "AlreadyExists"


def test_replace_with_stale_resource_version_is_409_conflict(core: kubernetes.client.CoreV1Api) -> None:
    original = core.create_namespaced_config_map(NS, _configmap("cfg"))
    fresh = core.read_namespaced_config_map("cfg", NS)
    fresh.data = {"k": "first"}
    core.replace_namespaced_config_map("cfg", NS, fresh)
    original.data = {"k": "stale"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cfg", NS, original)
    assert conflict.value.status == 409 and _status_of(conflict.value)["reason"] == "Conflict"
    assert core.read_namespaced_config_map("cfg", NS).data == {"k": "first"}


def test_list_honours_label_and_field_selectors(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, _configmap("a", {"tier": "web", "env": "prod"}))
    core.create_namespaced_config_map(NS, _configmap("b", {"tier": "web", "env": "dev"}))
    core.create_namespaced_config_map(NS, _configmap("c", {"tier": "db"}))

    def names(**kw: str) -> list[str]:
        return [i.metadata.name for i in core.list_namespaced_config_map(NS, **kw).items]

    assert names(label_selector="tier=web") == ["a", "b"]
    assert names(label_selector="tier=web,env!=prod") == ["b"]
    assert names(label_selector="env in (prod,dev)") == ["a", "b"]
    assert names(label_selector="!env") == ["c"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c", label_selector="tier") == ["a", "b"]


def test_dry_run_writes_validate_but_store_nothing(bare_sim: RunningSim, core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, _configmap("keep"))
    before = bare_sim.cluster.store.resource_version
    created = core.create_namespaced_config_map(NS, _configmap("ghost"), dry_run="All")
    assert created.metadata.name == "ghost"
    core.patch_namespaced_config_map("keep", NS, {"data": {"k": "patched"}}, dry_run="All")
    core.delete_namespaced_config_map("keep", NS, dry_run="All")
    assert bare_sim.cluster.store.resource_version == before
    assert core.read_namespaced_config_map("keep", NS).data == {"k": "v"}
    assert [i.metadata.name for i in core.list_namespaced_config_map(NS).items] == ["keep"]


def _raw(sim: RunningSim, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request without the client's own checks (it refuses some invalid objects locally)."""
    host, port = sim.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_invalid_workloads_are_refused_with_422(bare_sim: RunningSim, apps: kubernetes.client.AppsV1Api) -> None:
    mismatched = _deployment("web")
    mismatched["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    no_image = _deployment("web")
    del no_image["spec"]["template"]["spec"]["containers"][0]["image"]
    no_selector = _deployment("web")
    del no_selector["spec"]["selector"]
    for broken in (mismatched, no_image, no_selector):
        code, status = _raw(bare_sim, "POST", f"/apis/apps/v1/namespaces/{NS}/deployments", broken)
        assert code == 422 and status["reason"] == "Invalid" and status["kind"] == "Status"
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("web", NS)


def test_strategic_patch_changes_one_container_and_bumps_generation(apps: kubernetes.client.AppsV1Api) -> None:
    body = _deployment("web")
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apps.create_namespaced_deployment(NS, body)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.26"}]}}}}
    patched = apps.patch_namespaced_deployment("web", NS, patch)
    images = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert images == {"main": "nginx:1.26", "sidecar": "envoy:1"}
    assert patched.metadata.generation == 2


def test_scale_subresource_reads_and_sets_replicas(apps: kubernetes.client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, _deployment("web"))
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 4


def test_status_subresource_changes_status_only(apps: kubernetes.client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(NS, _deployment("web"))
    patch = {"status": {"replicas": 7}, "spec": {"replicas": 9}}
    apps.patch_namespaced_deployment_status("web", NS, patch)
    current = apps.read_namespaced_deployment("web", NS)
    assert current.status.replicas == 7 and current.spec.replicas == 1


def test_deleting_an_owner_deletes_its_dependents_unless_orphaned(
    core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api
) -> None:
    for name in ("owner", "keeper"):
        owner = core.create_namespaced_config_map(NS, _configmap(name))
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": owner.metadata.uid}
        core.create_namespaced_config_map(NS, {"metadata": {"name": f"{name}-child", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", NS)
    core.delete_namespaced_config_map("keeper", NS, propagation_policy="Orphan")
    names = [i.metadata.name for i in core.list_namespaced_config_map(NS).items]
    assert names == ["keeper-child"]


def test_watch_reports_changes_in_order_and_filters_by_name(core: kubernetes.client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    core.create_namespaced_config_map(NS, _configmap("w"))
    core.create_namespaced_config_map(NS, _configmap("other"))
    core.patch_namespaced_config_map("w", NS, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("w", NS)
    events = [
        (e["type"], e["object"].metadata.name)
        for e in kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, NS, resource_version=start, timeout_seconds=1
        )
    ]
    assert events == [("ADDED", "w"), ("ADDED", "other"), ("MODIFIED", "w"), ("DELETED", "w")]
    only_w = [
        e["type"]
        for e in kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map,
            NS,
            resource_version=start,
            field_selector="metadata.name=w",
            timeout_seconds=1,
        )
    ]
    assert only_w == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in _raw_watch(core, start)]
    assert versions == sorted(versions) and len(versions) == 4


def _raw_watch(core: kubernetes.client.CoreV1Api, start: str) -> list[dict[str, Any]]:
    response = core.list_namespaced_config_map(
        NS, watch=True, resource_version=start, timeout_seconds=1, _preload_content=False
    )
    return [json.loads(line) for line in response.data.decode().splitlines() if line]


def test_watch_without_version_starts_with_current_objects(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map(NS, _configmap("existing"))
    events = list(kubernetes.watch.Watch().stream(core.list_namespaced_config_map, NS, timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "existing")]
