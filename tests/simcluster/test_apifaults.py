"""API fault rules over real HTTP: status codes, apply-then-fail, reset, hang, latency, and the request log."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest

from simcluster.apifaults import ApiFaults, FaultRule, RequestInfo, rule_from
from simcluster.errors import BadRequest
from simcluster.harness import RunningSim

NS = "default"
CM = f"/api/v1/namespaces/{NS}/configmaps"


def _call(sim: RunningSim, method: str, path: str, body: Any = None, *, timeout: float = 10) -> tuple[int, Any, Any]:
    host, port = sim.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None, response.headers
    finally:
        connection.close()


def _setup(sim: RunningSim) -> None:
    _call(sim, "POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    code, _, _ = _call(sim, "POST", CM, {"metadata": {"name": "app"}, "data": {"k": "v1"}})
    assert code == 201


def _fault(sim: RunningSim, **rule: Any) -> dict[str, Any]:
    code, body, _ = _call(sim, "POST", "/sim/v1/api-faults", rule)
    assert code == 201, body
    return dict(body)


def _put(sim: RunningSim, value: str, **kw: Any) -> tuple[int, Any, Any]:
    _, current, _ = _call(sim, "GET", f"{CM}/app")
    current["data"] = {"k": value}
    return _call(sim, "PUT", f"{CM}/app", current, **kw)


def _value(sim: RunningSim) -> str:
    return str(_call(sim, "GET", f"{CM}/app")[1]["data"]["k"])


def test_status_fault_answers_429_with_retry_after_for_its_count_then_serves(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    _fault(bare_sim, kind="status", status=429, retry_after_seconds=2, verb="update", resource="configmaps", count=1)
    code, status, headers = _put(bare_sim, "v2")
    assert code == 429 and status["kind"] == "Status" and headers["Retry-After"] == "2"
    assert _value(bare_sim) == "v1"
    assert _put(bare_sim, "v2")[0] == 200
    assert _value(bare_sim) == "v2"


def test_apply_then_fail_writes_and_answers_503(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    _fault(bare_sim, kind="apply_then_fail", verb="update", name="app", count=1)
    code, _, _ = _put(bare_sim, "v2")
    assert code == 503
    assert _value(bare_sim) == "v2"
    log = _call(bare_sim, "GET", "/sim/v1/requests")[1]
    puts = [e for e in log if e["verb"] == "update"]
    assert [(e["status"], e["applied"], e["fault"]) for e in puts] == [(503, True, "status")]


def test_reset_closes_without_answer_and_does_not_apply(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    _fault(bare_sim, kind="reset", verb="PUT", resource="configmaps", count=1)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        _put(bare_sim, "v2")
    assert _value(bare_sim) == "v1"


def test_hang_with_apply_holds_the_answer_until_cleared(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    _fault(bare_sim, kind="hang", apply=True, verb="update", resource="configmaps")
    errors: list[BaseException] = []

    def put() -> None:
        try:
            _put(bare_sim, "v2", timeout=10)
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()
    assert _value(bare_sim) == "v2"  # applied while the client still waits
    assert _call(bare_sim, "DELETE", "/sim/v1/api-faults")[1] == {"cleared": 1}
    thread.join(timeout=5)
    assert not thread.is_alive() and len(errors) == 1


def test_latency_delays_then_serves(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    _fault(bare_sim, kind="latency", seconds=0.2, verb="get", name="app", count=1)
    started = time.monotonic()
    assert _call(bare_sim, "GET", f"{CM}/app")[0] == 200
    assert time.monotonic() - started >= 0.2


def test_dry_run_filter_and_request_log_since(bare_sim: RunningSim) -> None:
    _setup(bare_sim)
    first = max(e["seq"] for e in _call(bare_sim, "GET", "/sim/v1/requests")[1])
    _fault(bare_sim, kind="status", status=500, verb="update", dry_run=False)
    _, current, _ = _call(bare_sim, "GET", f"{CM}/app")
    assert _call(bare_sim, "PUT", f"{CM}/app?dryRun=All", current)[0] == 200
    assert _call(bare_sim, "PUT", f"{CM}/app", current)[0] == 500
    log = _call(bare_sim, "GET", f"/sim/v1/requests?since={first}")[1]
    assert [(e["verb"], e["dry_run"], e["status"]) for e in log] == [
        ("get", False, 200),
        ("update", True, 200),
        ("update", False, 500),
    ]


def test_rules_expire_by_duration() -> None:
    now = [0.0]
    faults = ApiFaults(monotonic=lambda: now[0])
    rule = faults.add({"kind": "status", "duration_seconds": 5})
    rule.created = 0.0
    info = RequestInfo("GET", "/api/v1/pods", "list", "pods", "", "", "", False)
    assert faults.pick(info) is rule
    now[0] = 6.0
    assert faults.pick(info) is None and faults.rules() == []


def test_rule_matching_by_subresource_and_unknown_fields_are_refused() -> None:
    eviction = RequestInfo("POST", "/x", "create", "pods", "eviction", "ns", "p", False)
    assert FaultRule(id=1, kind="status", resource="pods/eviction").matches(eviction)
    assert FaultRule(id=1, kind="status", resource="pods").matches(eviction)
    assert not FaultRule(id=1, kind="status", resource="pods", name="q").matches(eviction)
    with pytest.raises(BadRequest):
        rule_from({"kind": "status", "bogus": 1}, 1)
    with pytest.raises(BadRequest):
        rule_from({"kind": "explode"}, 1)
