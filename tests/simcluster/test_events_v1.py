"""events.k8s.io/v1 serves the same Events as core/v1, converted: the controllers' Events, a field
selector on `regarding`, a create through either group, a watch, and kubectl's discovery of it."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote, urlsplit

from simcluster.harness import RunningSim
from tests.simcluster.test_kubectl import kubectl

Obj = dict[str, Any]


def _call(sim: RunningSim, method: str, path: str, body: Obj | None = None) -> tuple[int, Any]:
    url = urlsplit(sim.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text  # a watch: one JSON object per line
    finally:
        conn.close()


def _settle(sim: RunningSim) -> None:
    sim.cluster.store.create("Namespace", {"metadata": {"name": "shop"}})
    deployment = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}},
        },
    }
    sim.cluster.store.create("Deployment", deployment)
    for _ in range(20):
        sim.cluster.tick(2)


def test_the_controllers_events_read_through_events_k8s_io(bare_sim: RunningSim) -> None:
    _settle(bare_sim)
    status, core = _call(bare_sim, "GET", "/api/v1/namespaces/shop/events")
    assert status == 200
    status, listed = _call(bare_sim, "GET", "/apis/events.k8s.io/v1/namespaces/shop/events")
    assert status == 200 and listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    assert len(listed["items"]) == len(core["items"]) > 0
    one = next(e for e in listed["items"] if e["reason"] == "Scheduled")
    assert one["regarding"]["kind"] == "Pod" and one["note"].startswith("Successfully assigned shop/")
    assert one["reportingController"] == "default-scheduler" and "involvedObject" not in one and "message" not in one
    status, got = _call(bare_sim, "GET", f"/apis/events.k8s.io/v1/namespaces/shop/events/{one['metadata']['name']}")
    assert status == 200 and got == one
    selector = quote("regarding.kind=Deployment,reason=ScalingReplicaSet")
    status, scaled = _call(bare_sim, "GET", f"/apis/events.k8s.io/v1/namespaces/shop/events?fieldSelector={selector}")
    assert status == 200 and [e["regarding"]["name"] for e in scaled["items"]] == ["web"]


def test_an_event_created_through_either_group_is_one_object(bare_sim: RunningSim) -> None:
    bare_sim.cluster.store.create("Namespace", {"metadata": {"name": "shop"}})
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "probe.1", "namespace": "shop"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "web-1", "namespace": "shop"},
        "reason": "Testing",
        "note": "written through events.k8s.io",
        "type": "Normal",
        "action": "Test",
        "reportingController": "example.com/tester",
        "reportingInstance": "tester-1",
    }
    status, created = _call(bare_sim, "POST", "/apis/events.k8s.io/v1/namespaces/shop/events", event)
    assert status == 201 and created["note"] == event["note"] and created["regarding"] == event["regarding"]
    status, core = _call(bare_sim, "GET", "/api/v1/namespaces/shop/events/probe.1")
    assert status == 200 and core["message"] == event["note"] and core["involvedObject"]["name"] == "web-1"
    assert core["reportingComponent"] == "example.com/tester" and core["source"]["component"] == "example.com/tester"
    status, _ = _call(bare_sim, "PATCH", "/apis/events.k8s.io/v1/namespaces/shop/events/probe.1", {"note": "x"})
    assert status == 405
    status, _ = _call(bare_sim, "DELETE", "/apis/events.k8s.io/v1/namespaces/shop/events/probe.1")
    assert status == 200
    assert _call(bare_sim, "GET", "/api/v1/namespaces/shop/events/probe.1")[0] == 404


def test_a_watch_through_events_k8s_io_sends_converted_objects(bare_sim: RunningSim) -> None:
    _settle(bare_sim)
    status, text = _call(bare_sim, "GET", "/apis/events.k8s.io/v1/namespaces/shop/events?watch=true&timeoutSeconds=1")
    assert status == 200
    lines = [json.loads(line) for line in bytes(text).splitlines() if line.strip()]
    assert lines and all(line["object"]["apiVersion"] == "events.k8s.io/v1" for line in lines)
    assert all("regarding" in line["object"] for line in lines)


def test_kubectl_discovers_the_group_and_still_reads_core_events(bare_sim: RunningSim) -> None:
    _settle(bare_sim)
    assert "events.k8s.io/v1" in kubectl(bare_sim, "api-versions")
    listed = json.loads(kubectl(bare_sim, "get", "events.events.k8s.io", "-n", "shop", "-o", "json"))
    assert listed["items"] and all("regarding" in e for e in listed["items"])
    assert "Scheduled" in kubectl(bare_sim, "get", "events", "-n", "shop")
    assert "Scheduled" in kubectl(bare_sim, "events", "-n", "shop")
