"""Where the probes read from: the cluster, the agent's own history, the alert source.

These are Protocols so the agent's store, a watch cache or a test fake can stand in.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from actions.base import TargetRef
from risk.objects import controller_owner

Obj = dict[str, Any]


class ClusterReader(Protocol):
    """Read access to the cluster with the shape of `actions.kube.Kube`'s read verbs."""

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """The object, or `actions.kube.NotFoundError`."""
        ...

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""
        ...

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        """Objects of a kind, optionally in one namespace and filtered by selectors."""
        ...


class ActionHistory(Protocol):
    """The agent's record of what it did, its incidents and its kill switch (the store)."""

    def action_times(
        self, *, since: datetime, target: TargetRef | None = None, namespace: str | None = None
    ) -> Sequence[datetime]:
        """Start times of actions the agent ran since `since`: on `target`, in `namespace`, or all."""
        ...

    def open_incidents(self) -> int:
        """Incidents currently open."""
        ...

    def kill_switch_engaged(self) -> bool:
        """True while `scutum pause` is in force; read at every decision."""
        ...


class AlertStatus(Protocol):
    """The alert source's current view."""

    def is_firing(self, fingerprint: str) -> bool | None:
        """Whether the alert with this fingerprint still fires; None when the source cannot tell."""
        ...


@runtime_checkable
class OwnerIndex(Protocol):
    """A reader that indexes objects by their controller (the watch cache does)."""

    def list_owned(self, kind: str, owner_uid: str) -> builtins.list[Obj]:
        """Objects of `kind` whose controller owner has `owner_uid`."""
        ...


@runtime_checkable
class ChangeFeed(Protocol):
    """A reader that can say what changed since a cursor (the watch cache can)."""

    def changed_since(
        self, kind: str, cursor: int, *, limit: int | None = None
    ) -> tuple[builtins.list[Obj], int] | None:
        """Objects of `kind` changed after `cursor` (0: all), oldest change first and at most
        `limit` of them, and the cursor after the last one returned; None when the kind is not
        followed."""
        ...


def owned_by(
    reader: ClusterReader, kind: str, namespace: str | None, owner_uid: str, *, selector: str | None = None
) -> builtins.list[Obj]:
    """Objects of `kind` controlled by `owner_uid`: from an owner index when the reader has one,
    else one list of the namespace narrowed by the owner's label `selector` (when given) and
    filtered here (the ReplicaSets of one Deployment, say)."""
    if isinstance(reader, OwnerIndex):
        return reader.list_owned(kind, owner_uid)
    listed = reader.list(kind, namespace, label_selector=selector) if selector else reader.list(kind, namespace)
    return [o for o in listed if (controller_owner(o) or {}).get("uid") == owner_uid]


class ReadCounter:
    """A ClusterReader that counts the reads it forwards."""

    def __init__(self, inner: ClusterReader) -> None:
        self._inner = inner
        self.reads = 0

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """Forward and count."""
        self.reads += 1
        return self._inner.get(kind, name, namespace)

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """Forward and count."""
        self.reads += 1
        return self._inner.try_get(kind, name, namespace)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        """Forward and count."""
        self.reads += 1
        return self._inner.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)

    def owned_by(
        self, kind: str, namespace: str | None, owner_uid: str, *, selector: str | None = None
    ) -> builtins.list[Obj]:
        """`owned_by` through the inner reader (its owner index when it has one), counted."""
        self.reads += 1
        return owned_by(self._inner, kind, namespace, owner_uid, selector=selector)


POLICY_KINDS = frozenset({"PodDisruptionBudget", "HorizontalPodAutoscaler"})
"""Kinds a re-check reads namespace-wide, for what applies to the target rather than the
target itself."""


class RecheckReader:
    """What the executor's re-check reads right before acting: the target and what it owns
    live, so the action is checked against the state it will change; the namespace's
    PodDisruptionBudgets and HorizontalPodAutoscalers from the watch cache (`cached`), which
    its watches keep current, so a re-check never lists a namespace on the API server.

    It has no owner index on purpose: the target's ReplicaSets (its history) are read live by
    the target's label selector."""

    def __init__(self, live: ClusterReader, cached: ClusterReader, *, cached_kinds: frozenset[str] = POLICY_KINDS):
        self._live = live
        self._cached = cached
        self._cached_kinds = cached_kinds

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        """Live."""
        return self._live.get(kind, name, namespace)

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """Live."""
        return self._live.try_get(kind, name, namespace)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        """Unselected lists of the policy kinds from the cache; every other list live."""
        source = self._cached if kind in self._cached_kinds and not (label_selector or field_selector) else self._live
        return source.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)
