"""API-level faults and the request log: what a flaky API server does to its clients.

A *rule* matches requests by Kubernetes verb (or HTTP method), resource (plural, optionally
`plural/subresource`), namespace, name and dry run, for a number of matches (`count`) or a time
(`duration_seconds`), and then does one thing:

- `status`: answer an error (`status`, default 503; 429 with `retry_after_seconds` sends Retry-After)
- `latency`: wait `seconds`, then serve the request normally
- `reset`: close the connection without an answer (TCP reset)
- `hang`: hold the connection `seconds` (default: until the rule is cleared or the server stops),
  then close it without an answer

With `apply: true` the request is served first (the write takes effect) and the fault then
replaces the answer: apply-then-503, apply-then-reset, apply-then-hang (a lost response).
`apply_then_fail` is `status` with `apply: true`.

Every Kubernetes API request is logged (method, verb, resource, namespace, name, dry run,
status answered, the rule that hit it), so a test can read back exactly what a client sent.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from simcluster.errors import BadRequest

Obj = dict[str, Any]
KINDS = ("status", "latency", "reset", "hang", "apply_then_fail")
VERB_OF_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
LOG_SIZE = 20_000
"""Requests kept in the log; the oldest are dropped first."""


@dataclass(frozen=True)
class RequestInfo:
    """What a fault rule and the log need to know about one request."""

    method: str
    path: str
    verb: str
    resource: str
    subresource: str
    namespace: str
    name: str
    dry_run: bool


@dataclass
class FaultRule:
    """One API fault rule; see the module docstring for its fields' meaning."""

    id: int
    kind: str
    verb: str = ""
    resource: str = ""
    namespace: str = ""
    name: str = ""
    dry_run: bool | None = None
    status: int = 503
    retry_after_seconds: float | None = None
    seconds: float | None = None
    apply: bool = False
    count: int | None = None
    duration_seconds: float | None = None
    hits: int = 0
    created: float = field(default_factory=time.monotonic)
    released: threading.Event = field(default_factory=threading.Event, repr=False)

    def matches(self, info: RequestInfo) -> bool:
        """Whether this rule applies to the request (ignoring count and duration)."""
        verbs = {info.verb.lower(), info.method.lower()}
        resources = {info.resource, f"{info.resource}/{info.subresource}" if info.subresource else info.resource}
        return (
            (not self.verb or self.verb.lower() in verbs)
            and (not self.resource or self.resource in resources)
            and (not self.namespace or self.namespace == info.namespace)
            and (not self.name or self.name == info.name)
            and (self.dry_run is None or self.dry_run == info.dry_run)
        )

    def live(self, now: float) -> bool:
        """Whether the rule still has matches or time left."""
        if self.count is not None and self.hits >= self.count:
            return False
        return self.duration_seconds is None or now - self.created < self.duration_seconds

    def as_json(self) -> Obj:
        """The rule as the sim route lists it."""
        hidden = ("created", "released")
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in hidden}


def rule_from(spec: Mapping[str, Any], rule_id: int) -> FaultRule:
    """A rule from its JSON form; 400 on an unknown kind or field."""
    if not isinstance(spec, Mapping):
        raise BadRequest("a fault rule is a JSON object")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise BadRequest(f"fault kind must be one of {', '.join(KINDS)}")
    allowed = set(FaultRule.__dataclass_fields__) - {"id", "hits", "created", "released"}
    unknown = set(spec) - allowed
    if unknown:
        raise BadRequest(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
    values = dict(spec)
    if kind == "apply_then_fail":
        values.update(kind="status", apply=True)
    try:
        rule = FaultRule(id=rule_id, **values)
    except TypeError as exc:
        raise BadRequest(str(exc)) from None
    if not 400 <= int(rule.status) <= 599:
        raise BadRequest("status must be an HTTP error code (400-599)")
    return rule


class ApiFaults:
    """The active rules and the request log, shared by every handler thread."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._rules: list[FaultRule] = []
        self._log: deque[Obj] = deque(maxlen=LOG_SIZE)
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def add(self, spec: Mapping[str, Any]) -> FaultRule:
        """Add a rule (checked first among equals: rules are tried in the order added)."""
        with self._lock:
            rule = rule_from(spec, next(self._ids))
            self._rules.append(rule)
            return rule

    def rules(self) -> list[Obj]:
        """The rules still in force."""
        now = self._monotonic()
        with self._lock:
            return [r.as_json() for r in self._rules if r.live(now)]

    def clear(self, rule_id: int | None = None) -> int:
        """Remove one rule (or all); hung requests held by them are let go. Returns how many."""
        with self._lock:
            gone = [r for r in self._rules if rule_id is None or r.id == rule_id]
            self._rules = [r for r in self._rules if r not in gone]
        for rule in gone:
            rule.released.set()
        return len(gone)

    def pick(self, info: RequestInfo) -> FaultRule | None:
        """The first live rule matching the request, counting the hit; None serves normally."""
        now = self._monotonic()
        with self._lock:
            for rule in self._rules:
                if rule.live(now) and rule.matches(info):
                    rule.hits += 1
                    return rule
        return None

    def record(self, info: RequestInfo, *, status: int | None, rule: FaultRule | None, applied: bool) -> None:
        """Log one request: `status` None when no answer was sent; `applied` when it was served."""
        entry = {
            **asdict(info),
            "status": status,
            "fault": rule.kind if rule else None,
            "rule": rule.id if rule else None,
            "applied": applied,
            "at": time.time(),
        }
        with self._lock:
            entry["seq"] = next(self._seq)
            self._log.append(entry)

    def requests(self, *, since: int = 0) -> list[Obj]:
        """Logged requests with a sequence number above `since`, oldest first."""
        with self._lock:
            return [e for e in self._log if e["seq"] > since]

    def clear_log(self) -> None:
        """Forget the logged requests (sequence numbers keep growing)."""
        with self._lock:
            self._log.clear()


def request_info(method: str, path: str, query: Mapping[str, str], resolved: Any | None) -> RequestInfo:
    """Describe a request; `resolved` is the routing result (a ResourceRoute) or None."""
    if resolved is None:
        return RequestInfo(method, path, method.lower(), "", "", "", "", False)
    verb = VERB_OF_METHOD.get(method, "get")
    if method == "GET" and resolved.name is None:
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
    if resolved.subresource == "eviction":
        verb = "create"
    return RequestInfo(
        method=method,
        path=path,
        verb=verb,
        resource=resolved.resource.plural,
        subresource=resolved.subresource or "",
        namespace=resolved.namespace or "",
        name=resolved.name or "",
        dry_run=query.get("dryRun", "") == "All",
    )
