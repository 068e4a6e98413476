"""In-memory stand-ins for the probes' sources: the agent's history, the alert source, a cluster."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from actions.base import TargetRef
from actions.kube import NotFoundError

Obj = dict[str, Any]


@dataclass
class FakeHistory:
    """Recorded actions as (time, target) pairs, an incident count and the kill switch."""

    actions: list[tuple[datetime, TargetRef]] = field(default_factory=list)
    incidents: int = 1
    paused: bool = False

    def action_times(
        self, *, since: datetime, target: TargetRef | None = None, namespace: str | None = None
    ) -> Sequence[datetime]:
        return [
            t
            for t, ref in self.actions
            if t >= since and (target is None or ref == target) and (namespace is None or ref.namespace == namespace)
        ]

    def open_incidents(self) -> int:
        return self.incidents

    def kill_switch_engaged(self) -> bool:
        return self.paused


@dataclass
class FakeAlerts:
    """Fingerprint -> firing; unknown fingerprints are None."""

    firing: dict[str, bool] = field(default_factory=dict)

    def is_firing(self, fingerprint: str) -> bool | None:
        return self.firing.get(fingerprint)


class FakeReader:
    """A ClusterReader over a list of objects; supports equality label and nodeName field selectors."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.reads = 0

    def _match(self, obj: Obj, kind: str, namespace: str | None) -> bool:
        m = obj.get("metadata", {})
        return obj.get("kind") == kind and (namespace is None or m.get("namespace") == namespace)

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        found = self.try_get(kind, name, namespace)
        if found is None:
            raise NotFoundError(f"{kind} {name}", status=404)
        return found

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        self.reads += 1
        for obj in self.objects:
            if self._match(obj, kind, namespace) and obj["metadata"]["name"] == name:
                return dict(obj)
        return None

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        self.reads += 1
        out = [dict(o) for o in self.objects if self._match(o, kind, namespace)]
        if field_selector:
            node = field_selector.split("=", 1)[1]
            out = [o for o in out if o.get("spec", {}).get("nodeName") == node]
        if label_selector:
            wanted = dict(term.split("=", 1) for term in label_selector.split(","))
            out = [o for o in out if all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
        return out
