"""Probes: read the facts one proposal needs, from the cluster and the agent's store.

The probes never take facts from the planner; they read the target, its controller, its
PDBs and history themselves. Reads are few (typically 3-6 per proposal; Events only for troubled pods) and are all
`get`/`list` calls, so a `ClusterCache` can serve them without touching the API server.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from actions.base import SnapshotSource
from actions.owner_policy import template_images
from actions.owners import managed_by
from actions.registry import get_action
from actions.revisions import history_kind, known_good_snapshot, revisions_of, template_digest
from actions.selectors import selector_query
from actions.workloads import template_of
from risk.event_probe import probe_events
from risk.facts import (
    TIER_LABEL,
    ActivityFacts,
    ConsumerFacts,
    ContainerFacts,
    EnvironmentFacts,
    Facts,
    HpaFacts,
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
from risk.objects import (
    DEPLOYMENT_REVISION,
    controller_owner,
    created_at,
    has_empty_dir,
    has_local_storage,
    is_finished,
    is_mirror_pod,
    labels,
    meta,
    selector_matches,
    template_references_configmap,
)
from risk.premises import probe_premises
from risk.sources import ActionHistory, AlertStatus, ClusterReader, ReadCounter

Obj = dict[str, Any]

ACTIVITY_WINDOW = timedelta(hours=1)
"""How far back the probe collects the agent's own actions (budgets are per hour)."""

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def probe(
    proposal: Proposal,
    *,
    reader: ClusterReader,
    history: ActionHistory,
    alerts: AlertStatus,
    now: datetime,
    snapshots: SnapshotSource | None = None,
    window: timedelta = ACTIVITY_WINDOW,
) -> Facts:
    """Read everything the scorers and the policy need for `proposal`, stamped with `now`."""
    counter = ReadCounter(reader)
    target = proposal.target
    kind = target.kind
    parts: dict[str, Any] = {}
    obj = counter.try_get(kind, target.name, target.namespace)
    owner = controller_owner(obj) if obj else None
    parts["target"] = TargetFacts(
        read_at=now,
        exists=obj is not None,
        kind=kind,
        owner_kind=owner.get("kind") if owner else None,
        created_at=created_at(obj) if obj else None,
        owner=managed_by(obj),
    )
    if kind in WORKLOAD_KINDS and obj is not None:
        parts.update(_probe_workload(counter, obj, proposal, now=now, snapshots=snapshots))
    elif kind == "Pod" and obj is not None:
        parts.update(_probe_pod(counter, obj, owner, now=now))
    elif kind == "Node" and obj is not None:
        parts.update(_probe_node(counter, obj, now=now))
    elif kind in ("ConfigMap", "Service"):
        parts.update(_probe_config(counter, obj, proposal, now=now, snapshots=snapshots))
    parts["premises"] = probe_premises(counter, proposal.premises, now=now) if proposal.premises else None
    tier = _namespace_tier(counter, target.namespace)
    parts["environment"] = _environment(proposal, history=history, alerts=alerts, tier=tier, now=now)
    parts["activity"] = _activity(proposal, history=history, now=now, window=window)
    return Facts(probed_at=now, api_reads=counter.reads, **parts)


def _namespace_tier(reader: ClusterReader, namespace: str | None) -> Tier:
    if not namespace:
        return Tier.STANDARD
    ns = reader.try_get("Namespace", namespace)
    raw = labels(ns).get(TIER_LABEL, "") if ns else ""
    return Tier(raw) if raw in {t.value for t in Tier} else Tier.STANDARD


def _environment(
    proposal: Proposal, *, history: ActionHistory, alerts: AlertStatus, tier: Tier, now: datetime
) -> EnvironmentFacts:
    states = [alerts.is_firing(fp) for fp in proposal.alert_fingerprints]
    firing: bool | None
    if any(s is True for s in states):
        firing = True
    elif states and all(s is False for s in states):
        firing = False
    else:
        firing = None
    return EnvironmentFacts(
        read_at=now,
        open_incidents=history.open_incidents(),
        alert_firing=firing,
        kill_switch=history.kill_switch_engaged(),
        tier=tier,
    )


def _activity(proposal: Proposal, *, history: ActionHistory, now: datetime, window: timedelta) -> ActivityFacts:
    since = now - window
    target = proposal.target
    return ActivityFacts(
        read_at=now,
        window_seconds=window.total_seconds(),
        on_target=tuple(history.action_times(since=since, target=target)),
        in_namespace=tuple(history.action_times(since=since, namespace=target.namespace)) if target.namespace else (),
        overall=tuple(history.action_times(since=since)),
    )


def workload_facts(obj: Obj, *, now: datetime, last_change_at: datetime | None = None) -> WorkloadFacts:
    """Replica and rollout state of a Deployment, StatefulSet, DaemonSet or ReplicaSet."""
    spec, status, kind = obj.get("spec") or {}, obj.get("status") or {}, str(obj.get("kind", ""))
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
    else:
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ready = int(status.get("readyReplicas") or 0)
        updated = int(status.get("updatedReplicas") or 0) if kind != "ReplicaSet" else ready
    generation = int(meta(obj).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    in_flight = updated < desired or int(status.get("replicas") or 0) > desired
    if kind == "StatefulSet" and status.get("updateRevision"):
        in_flight = in_flight or status.get("currentRevision") != status.get("updateRevision")
    return WorkloadFacts(
        read_at=now,
        kind=kind,
        name=str(meta(obj).get("name", "")),
        desired_replicas=desired,
        ready_replicas=ready,
        updated_replicas=updated,
        generation=generation,
        observed_generation=observed,
        rollout_in_flight=in_flight or observed < generation,
        last_change_at=last_change_at,
        containers=_containers(obj),
        ordered_rolling_update=kind == "StatefulSet"
        and spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        and (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate",
    )


def _containers(obj: Obj) -> tuple[ContainerFacts, ...]:
    found = []
    for c in (template_of(obj).get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        found.append(
            ContainerFacts(
                name=str(c.get("name", "")),
                cpu_request=req.get("cpu"),
                cpu_limit=lim.get("cpu"),
                memory_request=req.get("memory"),
                memory_limit=lim.get("memory"),
            )
        )
    return tuple(found)


def _probe_workload(
    reader: ReadCounter, obj: Obj, proposal: Proposal, *, now: datetime, snapshots: SnapshotSource | None
) -> dict[str, Any]:
    ns, name = proposal.target.namespace, proposal.target.name
    uid = meta(obj).get("uid")
    selector = selector_query((obj.get("spec") or {}).get("selector"))
    kind = history_kind(str(obj.get("kind", proposal.target.kind)))
    owned = reader.owned_by(kind, ns, str(uid), selector=selector) if uid else []
    revisions = _revisions(obj, owned, proposal, now=now, snapshots=snapshots)
    stamps = [t for t in (created_at(r) for r in owned) if t is not None]
    obj.setdefault("kind", proposal.target.kind)
    parts: dict[str, Any] = {
        "workload": workload_facts(obj, now=now, last_change_at=max(stamps) if stamps else None),
        "revisions": revisions,
    }
    template_labels = dict(((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})
    parts["pdb"] = _pdb(reader.list("PodDisruptionBudget", ns), template_labels, now=now)
    hints = get_action(proposal.action).risk_hints(proposal.params)
    if hints.reads_hpa:
        parts["hpa"] = _hpa(reader.list("HorizontalPodAutoscaler", ns), proposal.target.kind, name, now=now)
    if hints.reads_events and ns and selector:
        pods = reader.list("Pod", ns, label_selector=selector)
        parts["events"] = probe_events(reader, pods, namespace=ns, now=now)
    return parts


def _revisions(
    obj: Obj, owned: list[Obj], proposal: Proposal, *, now: datetime, snapshots: SnapshotSource | None
) -> RevisionFacts:
    history = revisions_of(owned)  # the one history reader, shared with the action and the planner
    ordered = sorted(history, key=lambda r: (r.number, r.created), reverse=True)
    current = ordered[0] if ordered else None
    if obj.get("kind") == "Deployment" and DEPLOYMENT_REVISION in (meta(obj).get("annotations") or {}):
        wanted = str(meta(obj)["annotations"][DEPLOYMENT_REVISION])
        current = next((r for r in ordered if str(r.number) == wanted), current)
    # "Before the incident" is the action's own cutoff (rollback: its `before`, the incident start
    # reaching back past the alert's pending period), from the one function the action acts on.
    cutoff = get_action(proposal.action).known_good_cutoff(proposal.params)
    started = cutoff or proposal.incident_started_at
    before = [str(r.number) for r in ordered if r is not current and r.created < started]
    snapshot = _known_good_snapshot(snapshots, proposal, cutoff)
    return RevisionFacts(
        read_at=now,
        revisions_before_incident=tuple(before),
        current_revision=str(current.number) if current else None,
        current_predates_incident=current is not None and current.created < started,
        snapshot_available=snapshot is not None,
        cutoff=cutoff,
        history=tuple(
            RevisionEntry(r.number, r.created, r.name, r.digest, images=template_images(r.template)) for r in history
        ),
        running_digest=template_digest(template_of(obj)),
        snapshot_digest=template_digest(template_of(snapshot)) if snapshot and template_of(snapshot) else None,
    )


def _known_good_snapshot(snapshots: SnapshotSource | None, proposal: Proposal, cutoff: datetime | None) -> Obj | None:
    """The snapshot the action would restore: the same function and the same cutoff it uses."""
    target = proposal.target
    if snapshots is None or not target.namespace or cutoff is None:
        return None
    return known_good_snapshot(snapshots, target.kind, target.namespace, target.name, cutoff)


def _pdb(pdbs: list[Obj], pod_labels: dict[str, str], *, now: datetime) -> PdbFacts:
    matching = [p for p in pdbs if selector_matches((p.get("spec") or {}).get("selector"), pod_labels)]
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in matching]
    return PdbFacts(read_at=now, count=len(matching), min_disruptions_allowed=min(allowed) if allowed else None)


def _hpa(hpas: list[Obj], kind: str, name: str, *, now: datetime) -> HpaFacts | None:
    for hpa in hpas:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == kind and ref.get("name") == name:
            spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
            return HpaFacts(
                read_at=now,
                name=str(meta(hpa).get("name", "")),
                min_replicas=int(spec.get("minReplicas") or 1),
                max_replicas=int(spec.get("maxReplicas") or 1),
                current_replicas=int(status.get("currentReplicas") or 0),
            )
    return None


def _probe_pod(reader: ClusterReader, pod: Obj, owner: Obj | None, *, now: datetime) -> dict[str, Any]:
    ns = meta(pod).get("namespace")
    parts: dict[str, Any] = {
        "pod": PodFacts(
            read_at=now,
            node=(pod.get("spec") or {}).get("nodeName"),
            has_empty_dir=has_empty_dir(pod),
            has_local_storage=has_local_storage(pod),
            is_daemonset_pod=bool(owner and owner.get("kind") == "DaemonSet"),
            is_mirror_pod=is_mirror_pod(pod),
        ),
        "pdb": _pdb(reader.list("PodDisruptionBudget", ns), labels(pod), now=now),
    }
    if owner and owner.get("kind") in ("ReplicaSet", "StatefulSet", "DaemonSet"):
        owner_obj = reader.try_get(str(owner["kind"]), str(owner.get("name", "")), ns)
        if owner_obj is not None:
            owner_obj.setdefault("kind", owner["kind"])
            parts["workload"] = workload_facts(owner_obj, now=now)
    return parts


def _probe_node(reader: ClusterReader, node: Obj, *, now: datetime) -> dict[str, Any]:
    name = str(meta(node).get("name", ""))
    pods = [p for p in reader.list("Pod", field_selector=f"spec.nodeName={name}") if not is_finished(p)]
    skipped = [p for p in pods if is_mirror_pod(p) or (controller_owner(p) or {}).get("kind") == "DaemonSet"]
    movable = [p for p in pods if p not in skipped]
    workloads: set[tuple[str, str, str]] = set()
    for pod in movable:
        owner = controller_owner(pod) or {"kind": "Pod", "name": meta(pod).get("name")}
        workloads.add((str(meta(pod).get("namespace")), str(owner.get("kind")), str(owner.get("name"))))
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") == "True" for c in conditions if c.get("type") == "Ready"), None)
    pdbs = reader.list("PodDisruptionBudget")
    allowed = [
        int((p.get("status") or {}).get("disruptionsAllowed") or 0)
        for p in pdbs
        if any(
            meta(pod).get("namespace") == meta(p).get("namespace")
            and selector_matches((p.get("spec") or {}).get("selector"), labels(pod))
            for pod in movable
        )
    ]
    nodes = reader.list("Node")
    return {
        "node": NodeFacts(
            read_at=now,
            exists=True,
            ready=ready,
            unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
            pod_count=len(movable),
            workload_count=len(workloads),
            local_storage_pods=sum(1 for p in movable if has_local_storage(p)),
            daemonset_or_mirror_pods=len(skipped),
            unowned_pods=sum(1 for p in movable if controller_owner(p) is None),
            pod_namespaces=tuple(str(meta(p).get("namespace", "")) for p in movable),
            cluster_nodes=len(nodes),
            cluster_unschedulable=sum(1 for n in nodes if (n.get("spec") or {}).get("unschedulable")),
        ),
        "pdb": PdbFacts(read_at=now, count=len(allowed), min_disruptions_allowed=min(allowed) if allowed else None),
    }


def _probe_config(
    reader: ClusterReader, obj: Obj | None, proposal: Proposal, *, now: datetime, snapshots: SnapshotSource | None
) -> dict[str, Any]:
    ns, name = proposal.target.namespace, proposal.target.name
    cutoff = get_action(proposal.action).known_good_cutoff(proposal.params)
    revisions = RevisionFacts(
        read_at=now,
        revisions_before_incident=(),
        current_revision=None,
        current_predates_incident=False,
        snapshot_available=_known_good_snapshot(snapshots, proposal, cutoff) is not None,
        cutoff=cutoff,
    )
    workloads = 0
    ready = 0
    if proposal.target.kind == "ConfigMap":
        for kind in ("Deployment", "StatefulSet"):
            for w in reader.list(kind, ns):
                if template_references_configmap((w.get("spec") or {}).get("template") or {}, name):
                    workloads += 1
                    ready += int((w.get("status") or {}).get("readyReplicas") or 0)
    elif obj is not None:
        selector = (obj.get("spec") or {}).get("selector") or {}
        if selector:
            pods = reader.list("Pod", ns, label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
            owners = {(controller_owner(p) or {}).get("name") or meta(p).get("name") for p in pods}
            workloads = len(owners)
            ready = sum(1 for p in pods if _pod_ready(p))
    return {"revisions": revisions, "consumers": ConsumerFacts(read_at=now, workloads=workloads, ready_replicas=ready)}


def _pod_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
