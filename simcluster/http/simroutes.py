"""Routes beyond the Kubernetes API: an Alertmanager-compatible alert feed and the simulation controls.

- `GET /api/v2/alerts` and `GET /api/v2/status`, shaped as Alertmanager's API v2 answers them,
  with the `active`, `silenced`, `inhibited`, `unprocessed` and `filter` query parameters.
- `POST /sim/v1/inject` (`{"fault": NAME, "params": {...}}`), `POST /sim/v1/tick`
  (`{"seconds": N}`) and `GET /sim/v1/faults`.
- API faults (`simcluster.apifaults`): `POST /sim/v1/api-faults` adds a rule, `GET` lists the
  rules in force, `DELETE` clears them (`?id=N` one); `GET /sim/v1/requests?since=SEQ` reads the
  request log, `DELETE /sim/v1/requests` empties it. These work with or without a cluster.
"""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import parse_qs

from simcluster.apifaults import ApiFaults
from simcluster.errors import BadRequest, Conflict, Invalid, NotFound
from simcluster.http.messages import Request, Response

Obj = dict[str, Any]

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')

ALERTMANAGER_STATUS: Obj = {
    "cluster": {"name": "simcluster", "status": "ready", "peers": []},
    "versionInfo": {
        "version": "0.28.0-simcluster",
        "revision": "simcluster",
        "branch": "simcluster",
        "buildUser": "simcluster",
        "buildDate": "20260101-00:00:00",
        "goVersion": "go1.25.0",
    },
    "config": {"original": "route:\n  receiver: simcluster\nreceivers:\n- name: simcluster\n"},
    "uptime": "2026-01-01T00:00:00.000Z",
}


class SimControls(Protocol):
    """What the simulation routes need from the cluster."""

    def tick(self, seconds: float = 1.0) -> None: ...

    @property
    def manual_time(self) -> bool:
        """True when time moves only by `tick` (False: it follows the wall clock)."""
        ...

    def inject(self, fault: str, **params: Any) -> dict[str, Any]: ...

    def faults(self) -> list[dict[str, Any]]: ...

    def firing_alerts(self) -> list[dict[str, Any]]: ...


def _matcher(text: str) -> tuple[str, str, str]:
    found = _MATCHER.match(text)
    if not found:
        raise BadRequest(f"bad matcher format: {text}")
    name, op, value = found.groups()
    return name, op, value


def _passes(labels: dict[str, str], matcher: tuple[str, str, str]) -> bool:
    name, op, value = matcher
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def _flag(params: dict[str, list[str]], name: str) -> bool:
    return params.get(name, ["true"])[-1].lower() != "false"


def filter_alerts(alerts: list[Obj], raw_query: str) -> list[Obj]:
    """Alertmanager's `GET /api/v2/alerts` filtering over a list of GettableAlerts."""
    params = parse_qs(raw_query)
    matchers = [_matcher(f) for f in params.get("filter", [])]
    wanted = {
        "active": _flag(params, "active"),
        "suppressed": _flag(params, "silenced") or _flag(params, "inhibited"),
        "unprocessed": _flag(params, "unprocessed"),
    }
    out = []
    for alert in alerts:
        state = (alert.get("status") or {}).get("state", "active")
        if not wanted.get(state, True):
            continue
        if all(_passes(alert.get("labels") or {}, m) for m in matchers):
            out.append(alert)
    return out


class SimRoutes:
    """The non-Kubernetes routes; all answer 404 when the server runs without a cluster."""

    def __init__(self, cluster: SimControls | None, faults: ApiFaults | None = None) -> None:
        self.cluster = cluster
        self.faults = faults or ApiFaults()

    def route(self, request: Request, path: str) -> Response | None:
        """Answer the request if it is one of these routes, else None."""
        if not path.startswith(("/api/v2/", "/sim/v1/")):
            return None
        answer = self._api_faults(request, path)
        return answer if answer is not None else self._cluster_route(request, path)

    def _cluster_route(self, request: Request, path: str) -> Response:
        if self.cluster is None:
            raise NotFound("this server runs without a simulated cluster")
        key = (request.method, path)
        if key == ("GET", "/api/v2/alerts"):
            return Response.json(200, filter_alerts(self.cluster.firing_alerts(), request.raw_query))
        if key == ("GET", "/api/v2/status"):
            return Response.json(200, ALERTMANAGER_STATUS)
        if key == ("GET", "/sim/v1/faults"):
            return Response.json(200, self.cluster.faults())
        if key == ("POST", "/sim/v1/inject"):
            return self._inject(request)
        if key == ("POST", "/sim/v1/tick"):
            body = request.json_body() if request.body.strip() else {}
            seconds = float((body or {}).get("seconds", 1.0))
            if seconds < 0:
                raise BadRequest("seconds must not be negative")
            if not self.cluster.manual_time:
                raise Conflict("the simulated clock follows the wall clock (sim serve --speed); it cannot be ticked")
            self.cluster.tick(seconds)
            return Response.json(200, {"ticked": seconds})
        raise NotFound(f"no route {request.method} {path}")

    def _api_faults(self, request: Request, path: str) -> Response | None:
        if path == "/sim/v1/api-faults":
            if request.method == "GET":
                return Response.json(200, self.faults.rules())
            if request.method == "POST":
                return Response.json(201, self.faults.add(request.json_body()).as_json())
            if request.method == "DELETE":
                raw = request.query.get("id")
                return Response.json(200, {"cleared": self.faults.clear(int(raw) if raw else None)})
        if path == "/sim/v1/requests":
            if request.method == "GET":
                return Response.json(200, self.faults.requests(since=int(request.query.get("since") or 0)))
            if request.method == "DELETE":
                self.faults.clear_log()
                return Response.json(200, {"cleared": True})
        return None

    def _inject(self, request: Request) -> Response:
        assert self.cluster is not None
        body = request.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
            raise BadRequest('expected {"fault": NAME, "params": {...}}')
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise BadRequest("params must be an object")
        try:
            result = self.cluster.inject(body["fault"], **params)
        except (ValueError, TypeError) as exc:
            raise Invalid(str(exc)) from None
        return Response.json(201, result)
