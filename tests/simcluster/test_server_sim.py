"""The server's HTTP behaviour beyond CRUD: eviction, keep-alive, concurrent watches, tables,
the Alertmanager feed and the simulation controls."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, running_sim
from simcluster.http.simroutes import filter_alerts
from simcluster.serve import serve

NS = "default"


_OPEN: list[http.client.HTTPConnection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


class Http:
    """One keep-alive connection to the sim (closed after the test)."""

    def __init__(self, sim: RunningSim) -> None:
        host, port = sim.url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        _OPEN.append(self.connection)

    def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, raw: bool = False
    ) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        self.connection.request(
            method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = self.connection.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        if raw or not (kind.startswith("application/json") and data):
            return response.status, data.decode()
        return response.status, json.loads(data)


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        },
    }


def _ensure_namespace(client: Http) -> None:
    code, _ = client.call("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    assert code in (201, 409)


def test_eviction_blocked_by_a_pdb_is_429_and_allowed_otherwise(bare_sim: RunningSim) -> None:
    client = Http(bare_sim)
    _ensure_namespace(client)
    assert client.call("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", _deployment("solo", 1))[0] == 201
    pdb = {"metadata": {"name": "solo"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "solo"}}}}
    assert client.call("POST", f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets", pdb)[0] == 201
    for _ in range(30):
        bare_sim.cluster.tick(1)
    code, pods = client.call("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dsolo")
    assert code == 200 and len(pods["items"]) == 1
    name = pods["items"][0]["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": NS}}
    code, status = client.call("POST", f"/api/v1/namespaces/{NS}/pods/{name}/eviction", eviction)
    assert code == 429 and status["kind"] == "Status" and status["reason"] == "TooManyRequests"
    assert client.call("GET", f"/api/v1/namespaces/{NS}/pods/{name}")[0] == 200
    client.call(
        "PATCH",
        f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets/solo",
        {"spec": {"minAvailable": 0}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    bare_sim.cluster.tick(1)
    code, status = client.call("POST", f"/api/v1/namespaces/{NS}/pods/{name}/eviction", eviction)
    assert code == 201 and status["status"] == "Success"


def test_keep_alive_serves_many_requests_on_one_connection_while_watches_wait(bare_sim: RunningSim) -> None:
    client = Http(bare_sim)
    _ensure_namespace(client)
    results: list[list[str]] = []

    def watch() -> None:
        watcher = Http(bare_sim)
        _, body = watcher.call(
            "GET", f"/api/v1/namespaces/{NS}/configmaps?watch=true&timeoutSeconds=1&resourceVersion=1", raw=True
        )
        results.append([json.loads(line)["type"] for line in body.splitlines()])

    threads = [threading.Thread(target=watch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for n in range(20):
        assert client.call("POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": f"c{n}"}})[0] == 201
    for thread in threads:
        thread.join(timeout=10)
    assert [len(r) for r in results] == [20, 20, 20]


def test_table_output_has_kind_specific_columns(bare_sim: RunningSim) -> None:
    client = Http(bare_sim)
    _ensure_namespace(client)
    client.call("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", _deployment("web", 2))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    code, table = client.call("GET", f"/apis/apps/v1/namespaces/{NS}/deployments", headers=accept)
    assert code == 200 and table["kind"] == "Table"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert [name for name, priority in columns if priority == 0] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert [name for name, priority in columns if priority == 1] == ["Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"][:2] == ["web", "0/2"]
    assert len(table["rows"][0]["cells"]) == len(columns)


def test_wrong_verbs_and_unknown_paths_get_status_errors(bare_sim: RunningSim) -> None:
    client = Http(bare_sim)
    assert client.call("PUT", "/api/v1")[0] == 405
    code, status = client.call("GET", "/apis/example.com/v1/widgets")
    assert code == 404 and status["kind"] == "Status"
    assert client.call("POST", "/api/v1/namespaces", {"metadata": {"name": "Bad_Name"}})[0] == 422
    assert client.call("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(b")[0] == 400


def test_alert_feed_filters_like_alertmanager() -> None:
    alerts = [
        {"labels": {"alertname": "KubePodCrashLooping", "namespace": "shop"}, "status": {"state": "active"}},
        {"labels": {"alertname": "KubeNodeNotReady", "node": "n1"}, "status": {"state": "active"}},
        {"labels": {"alertname": "Watchdog"}, "status": {"state": "suppressed"}},
    ]
    assert len(filter_alerts(alerts, "")) == 3
    assert [a["labels"]["alertname"] for a in filter_alerts(alerts, "filter=namespace%3D%22shop%22")] == [
        "KubePodCrashLooping"
    ]
    assert len(filter_alerts(alerts, 'filter=alertname%3D~"Kube.*"')) == 2
    assert len(filter_alerts(alerts, "silenced=false&inhibited=false")) == 2
    assert filter_alerts(alerts, "active=false") == [alerts[2]]


def test_sim_routes_tick_inject_and_serve_alerts(bare_sim: RunningSim) -> None:
    client = Http(bare_sim)
    clock = bare_sim.cluster.clock
    assert isinstance(clock, ManualClock)
    before = clock.now()
    assert client.call("POST", "/sim/v1/tick", {"seconds": 30})[0] == 200
    assert (clock.now() - before).total_seconds() == 30
    code, faults = client.call("GET", "/sim/v1/faults")
    assert code == 200 and isinstance(faults, list)
    code, status = client.call("POST", "/sim/v1/inject", {"fault": "no-such-fault", "params": {}})
    assert code == 422 and status["kind"] == "Status"
    code, alerts = client.call("GET", "/api/v2/alerts")
    assert code == 200 and isinstance(alerts, list)
    assert client.call("GET", "/api/v2/status")[1]["cluster"]["status"] == "ready"


def test_same_seed_and_clock_give_the_same_cluster() -> None:
    def run() -> list[Any]:
        with running_sim("sample", clock=ManualClock(), seed=7) as sim:
            client = Http(sim)
            _ensure_namespace(client)
            client.call("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", _deployment("web", 3))
            for _ in range(20):
                sim.cluster.tick(1)
            return [(k, ns, n, o) for k, ns, n, o in sim.cluster.store.digest()]

    assert run() == run()


def test_serve_writes_a_kubeconfig_and_stops_on_request(tmp_path: Path) -> None:
    stop = threading.Event()
    kubeconfig = tmp_path / "kubeconfig"
    thread = threading.Thread(
        target=serve, args=(0, kubeconfig), kwargs={"scenario": None, "bare": True, "stop": stop}, daemon=True
    )
    thread.start()
    for _ in range(200):
        if kubeconfig.exists():
            break
        threading.Event().wait(0.01)
    assert "server: http://127.0.0.1:" in kubeconfig.read_text()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.parametrize("path", ["/version", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v3"])
def test_discovery_documents_are_served(bare_sim: RunningSim, path: str) -> None:
    code, body = Http(bare_sim).call("GET", path)
    assert code == 200 and body
