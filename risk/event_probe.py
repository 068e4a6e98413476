"""Events as facts: what the scheduler and the kubelet said about a workload's troubled pods.

A pod's state says *that* it is stuck (Pending, waiting in CrashLoopBackOff, last terminated
OOMKilled); its Events say *why* ("0/3 nodes are available: insufficient memory"). The probe
reads Events only for pods whose state shows trouble, at most `MAX_PODS` of them, each with one
list field-selected by the involved object (kind, name and uid, so a StatefulSet pod's
predecessor of the same name does not count), plus one list per node for the OOM killer's
reports. No namespace-wide list of Events is ever made. An Event counts only while the pod's
state still bears it out, and only if seen within `WINDOW`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.untrusted import clean_text
from risk.facts import EventFacts, EventFinding, EventReason
from risk.objects import is_finished, meta, parse_time
from risk.sources import ClusterReader

Obj = dict[str, Any]

MAX_PODS = 5
"""Troubled pods whose Events are read per probe (the reads stay bounded on a large workload)."""
WINDOW = timedelta(hours=1)
"""Events last seen longer ago than this are history, not state (the API server's Event TTL)."""
MESSAGE_CAP = 200
"""Characters of an Event's message kept in a finding."""
CRASHING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"})


def _unscheduled(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    scheduled = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    return not (pod.get("spec") or {}).get("nodeName") and (scheduled is None or scheduled.get("status") == "False")


def _statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _crashing(pod: Obj) -> bool:
    return any(((s.get("state") or {}).get("waiting") or {}).get("reason") in CRASHING for s in _statuses(pod))


def _oom_killed(pod: Obj) -> bool:
    return any(
        ((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled" for s in _statuses(pod)
    )


def troubled(pods: Iterable[Obj]) -> list[Obj]:
    """The pods whose state shows trouble Events explain, by name, at most MAX_PODS."""
    found = [
        p for p in pods if not is_finished(p) and not meta(p).get("deletionTimestamp")
        and (_unscheduled(p) or _crashing(p) or _oom_killed(p))
    ]  # fmt: skip
    return sorted(found, key=lambda p: str(meta(p).get("name", "")))[:MAX_PODS]


def _names(message: str, pod: str) -> bool:
    """True when `message` names the pod as a whole word: "web-1" is not in "pod web-10" nor in
    "web-1.b", but is in "pod web-1." (a period that ends the sentence)."""
    return re.search(rf"(?<![a-z0-9.-]){re.escape(pod)}(?![a-z0-9-]|\.[a-z0-9])", message) is not None


def _seen(event: Obj) -> datetime | None:
    seen = parse_time(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp"))
    return seen.replace(tzinfo=UTC) if seen is not None and seen.tzinfo is None else seen


def _recent(events: Iterable[Obj], now: datetime) -> list[Obj]:
    fresh = [(seen, e) for e in events if (seen := _seen(e)) is not None and now - seen <= WINDOW]
    return [e for _, e in sorted(fresh, key=lambda pair: pair[0])]


def probe_events(reader: ClusterReader, pods: Iterable[Obj], *, namespace: str, now: datetime) -> EventFacts:
    """The Events that explain the troubled ones among `pods` (a workload's pods)."""
    examined = troubled(pods)
    hits: dict[EventReason, list[tuple[str, Obj]]] = defaultdict(list)
    oom_nodes: dict[str, list[str]] = defaultdict(list)
    for pod in examined:
        name, uid = str(meta(pod).get("name", "")), str(meta(pod).get("uid", ""))
        selector = f"involvedObject.kind=Pod,involvedObject.name={name}" + (f",involvedObject.uid={uid}" if uid else "")
        for event in _recent(reader.list("Event", namespace, field_selector=selector), now):
            reason = event.get("reason")
            if reason == EventReason.FAILED_SCHEDULING and _unscheduled(pod):
                hits[EventReason.FAILED_SCHEDULING].append((name, event))
            elif reason == EventReason.BACK_OFF and _crashing(pod):
                hits[EventReason.BACK_OFF].append((name, event))
        node = (pod.get("spec") or {}).get("nodeName")
        if node and _oom_killed(pod):
            oom_nodes[str(node)].append(name)
    for node, names in sorted(oom_nodes.items()):
        selector = f"involvedObject.kind=Node,involvedObject.name={node},reason=OOMKilling"
        for event in _recent(reader.list("Event", "default", field_selector=selector), now):
            named = [n for n in names if _names(str(event.get("message", "")), n)]
            hits[EventReason.OOM_KILLING] += [(n, event) for n in named[:1]]
    return EventFacts(
        read_at=now,
        pods_examined=len(examined),
        findings=tuple(_finding(reason, hits[reason]) for reason in EventReason if hits.get(reason)),
    )


def _finding(reason: EventReason, hits: list[tuple[str, Obj]]) -> EventFinding:
    pods = tuple(sorted({name for name, _ in hits}))
    newest = max((e for _, e in hits), key=lambda e: _seen(e) or datetime.min.replace(tzinfo=UTC))
    return EventFinding(
        reason=reason,
        pods=pods,
        count=sum(max(1, _count(e)) for _, e in hits),
        message=clean_text(str(newest.get("message", "")), limit=MESSAGE_CAP),
    )


def _count(event: Obj) -> int:
    try:
        return int(event.get("count") or 1)
    except (TypeError, ValueError):
        return 1
