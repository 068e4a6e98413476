"""Builders for proposals and facts used across the risk tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.registry import get_action
from risk.facts import (
    ActivityFacts,
    EnvironmentFacts,
    Facts,
    NodeFacts,
    PdbFacts,
    PodFacts,
    RevisionEntry,
    RevisionFacts,
    TargetFacts,
    Tier,
    WorkloadFacts,
)
from risk.model import Proposal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
"""A Wednesday, in business hours."""
INCIDENT = NOW - timedelta(minutes=10)


def proposal(
    action: str,
    params: dict[str, Any],
    *,
    claims: dict[str, Any] | None = None,
    requested_by: str | None = None,
    fingerprints: tuple[str, ...] = ("fp-1",),
) -> Proposal:
    """A validated proposal for a registry action."""
    act = get_action(action)
    parsed = act.parse(params)
    return Proposal(
        action=act.name,
        params=parsed,
        target=act.target(parsed),
        incident_started_at=INCIDENT,
        claims=claims or {},
        alert_fingerprints=fingerprints,
        requested_by=requested_by,
    )


def restart(name: str = "web", namespace: str = "shop", **kw: Any) -> Proposal:
    """restart_workload of a Deployment."""
    params = {"namespace": namespace, "name": name, "kind": "Deployment", "restart_token": "t1"}
    return proposal("restart_workload", params, **kw)


def base_facts(
    kind: str = "Deployment",
    *,
    exists: bool = True,
    owner_kind: str | None = None,
    tier: Tier = Tier.STANDARD,
    firing: bool | None = True,
    kill_switch: bool = False,
    incidents: int = 1,
    on_target: tuple[datetime, ...] = (),
    in_namespace: tuple[datetime, ...] = (),
    overall: tuple[datetime, ...] = (),
    at: datetime = NOW,
) -> Facts:
    """Facts with only the target, environment and activity groups."""
    return Facts(
        probed_at=at,
        target=TargetFacts(read_at=at, exists=exists, kind=kind, owner_kind=owner_kind),
        environment=EnvironmentFacts(
            read_at=at, open_incidents=incidents, alert_firing=firing, kill_switch=kill_switch, tier=tier
        ),
        activity=ActivityFacts(
            read_at=at,
            window_seconds=3600,
            on_target=on_target,
            in_namespace=in_namespace or on_target,
            overall=overall or in_namespace or on_target,
        ),
    )


def workload(
    ready: int,
    *,
    desired: int | None = None,
    updated: int | None = None,
    generation: int = 2,
    observed: int = 2,
    last_change_at: datetime | None = None,
    kind: str = "Deployment",
    name: str = "web",
) -> WorkloadFacts:
    """A settled workload with `ready` replicas unless told otherwise."""
    want = ready if desired is None else desired
    upd = want if updated is None else updated
    return WorkloadFacts(
        read_at=NOW,
        kind=kind,
        name=name,
        desired_replicas=want,
        ready_replicas=ready,
        updated_replicas=upd,
        generation=generation,
        observed_generation=observed,
        rollout_in_flight=upd < want or observed < generation,
        last_change_at=last_change_at,
    )


def workload_facts(ready: int, **kw: Any) -> Facts:
    """A Deployment target with a workload group and a PDB that allows one disruption."""
    return replace(
        base_facts(**kw),
        workload=workload(ready),
        pdb=PdbFacts(read_at=NOW, count=1, min_disruptions_allowed=1),
    )


def revisions(before: tuple[str, ...], *, snapshot: bool = False, current_predates: bool = False) -> RevisionFacts:
    """Revision history: `before` (newest first) created before the incident; the running revision
    9 created after it unless `current_predates`."""
    older = [
        RevisionEntry(int(n), INCIDENT - timedelta(hours=index + 1), f"web-{n}", f"digest-{n}")
        for index, n in enumerate(before)
    ]
    current_at = INCIDENT - timedelta(minutes=30) if current_predates else INCIDENT + timedelta(minutes=1)
    history = (*sorted(older, key=lambda e: e.created), RevisionEntry(9, current_at, "web-9", "digest-9"))
    return RevisionFacts(
        read_at=NOW,
        revisions_before_incident=before,
        current_revision="9",
        current_predates_incident=current_predates,
        snapshot_available=snapshot,
        cutoff=INCIDENT,
        history=history,
        running_digest="digest-9",
        snapshot_digest="digest-snapshot" if snapshot else None,
    )


def node(pods: int, workloads: int, *, local: int = 0, unowned: int = 0) -> NodeFacts:
    """A ready node with `pods` movable pods of `workloads` workloads."""
    return NodeFacts(
        read_at=NOW,
        exists=True,
        ready=True,
        unschedulable=False,
        pod_count=pods,
        workload_count=workloads,
        local_storage_pods=local,
        daemonset_or_mirror_pods=2,
        unowned_pods=unowned,
    )


def pod(*, empty_dir: bool = False) -> PodFacts:
    """A pod on node-1."""
    return PodFacts(
        read_at=NOW,
        node="node-1",
        has_empty_dir=empty_dir,
        has_local_storage=empty_dir,
        is_daemonset_pod=False,
        is_mirror_pod=False,
    )
