"""Defaulting and events, without HTTP: QoS classes by the kubelet's rules, event aggregation and expiry."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simcluster.clock import ManualClock
from simcluster.defaults import apply_defaults, qos_class
from simcluster.events import EventRecorder, container_events, oom_killed
from simcluster.store import ObjectStore


def pod(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{}], "BestEffort"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),  # requests default to limits
        ([{"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
        ([{"requests": {"cpu": "500m"}, "limits": {"cpu": "1", "memory": "1Gi"}}], "Burstable"),
        ([{"limits": {"memory": "1Gi"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ],
)
def test_qos_class_follows_the_kubelet_rules(resources: list[dict[str, Any]], expected: str) -> None:
    assert qos_class(pod(*resources)) == expected


def test_defaults_fill_only_what_is_missing() -> None:
    deploy: dict[str, Any] = {"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": []}}}}
    apply_defaults("Deployment", deploy, None)
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["revisionHistoryLimit"] == 10
    service: dict[str, Any] = {"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 80}]}}
    apply_defaults("Service", service, None)
    assert [p["protocol"] for p in service["spec"]["ports"]] == ["UDP", "TCP"]


def test_the_same_event_is_counted_not_duplicated_and_expires_after_an_hour() -> None:
    clock = ManualClock()
    store = ObjectStore(clock)
    store.create("Namespace", {"metadata": {"name": "shop"}})
    target = {"kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"}}
    recorder = EventRecorder(store)

    for _ in range(3):
        recorder.record(target, clock.now(), type_="Warning", reason="BackOff", message="m", component="kubelet")
    (event,) = store.iter_kind("Event")
    assert event["count"] == 3 and event["involvedObject"]["name"] == "web-1"

    clock.advance(3601)
    assert recorder.prune(clock.now()) == 1
    assert list(store.iter_kind("Event")) == []


def test_kubelet_events_from_status_changes() -> None:
    spec = {"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}
    started = [{"name": "web", "state": {"running": {}}, "restartCount": 0}]
    assert [r for _, r, _ in container_events(spec, [], started)] == ["Pulled", "Created", "Started"]
    assert container_events(spec, started, started) == []
    looping = [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 1}]
    assert [(t, r) for t, r, _ in container_events(spec, started, looping)] == [("Warning", "BackOff")]
    pulling = [{"name": "web", "state": {"waiting": {"reason": "ErrImagePull"}}, "restartCount": 0}]
    assert [r for _, r, _ in container_events(spec, [], pulling)] == ["Pulling", "Failed"]
    oom = [
        {
            "name": "web",
            "state": {"running": {}},
            "lastState": {"terminated": {"reason": "OOMKilled"}},
            "restartCount": 1,
        }
    ]
    assert oom_killed(started, oom) == ["web"]
    assert oom_killed(oom, oom) == []


def test_tick_is_refused_when_the_clock_follows_the_wall() -> None:
    from simcluster.clock import SystemClock
    from simcluster.cluster import SimCluster
    from simcluster.http.api import KubeApi
    from simcluster.http.messages import Request

    real = KubeApi(SimCluster(SystemClock()).store, SimCluster(SystemClock()))
    refused = real.handle(Request("POST", "/sim/v1/tick", body=b'{"seconds": 60}'))
    manual_cluster = SimCluster()
    manual = KubeApi(manual_cluster.store, manual_cluster)
    before = manual_cluster.clock.now()
    ticked = manual.handle(Request("POST", "/sim/v1/tick", body=b'{"seconds": 60}'))

    assert refused.status == 409 and b"wall clock" in refused.body
    assert ticked.status == 200 and (manual_cluster.clock.now() - before).total_seconds() == 60


odd = st.sampled_from([None, "x", 3, [], {}, [None, "x", 3]])


@given(
    kind=st.sampled_from(["Deployment", "StatefulSet", "Service", "Pod", "Job"]),
    field=st.sampled_from(
        ["strategy", "updateStrategy", "template", "containers", "initContainers", "ports", "status", "resources"]
    ),
    value=odd,
)
def test_defaulting_never_crashes_on_null_or_mistyped_fields(kind: str, field: str, value: Any) -> None:
    """A real API server treats `null` as unset and answers a bad type with 4xx; the simulated one
    dropped the connection (an exception in its admission hook) for `strategy: null`."""
    container: dict[str, Any] = {"name": "c", "image": "x", "resources": {}, "ports": [{"containerPort": 80}]}
    spec: dict[str, Any] = {"containers": [container], "ports": [{"port": 80}], "template": {"spec": {}}}
    spec["template"]["spec"] = {"containers": [dict(container)]}
    obj: dict[str, Any] = {"metadata": {"name": "o"}, "spec": spec}
    if field == "status":
        obj["status"] = value
    elif field in ("containers", "initContainers"):
        spec[field] = value
        spec["template"]["spec"][field] = value
    elif field == "resources":
        container["resources"] = value
    else:
        spec[field] = value
    apply_defaults(kind, obj, None)
    if kind == "Deployment" and field == "strategy" and value is None:  # null is unset: defaulted
        assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    if kind == "Pod" and (field != "status" or value is None):
        assert obj["status"]["qosClass"] in ("BestEffort", "Burstable", "Guaranteed")
