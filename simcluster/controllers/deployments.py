"""Deployment -> ReplicaSets -> Pods, with rolling updates, revisions and status."""

from __future__ import annotations

import copy
from typing import Any

from simcluster.controllers.context import (
    Context,
    int_or_percent,
    owner_ref,
    pod_active,
    pod_ready,
    template_hash,
    with_condition,
)
from simcluster.events import owner_reference

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def _revision(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _spec_replicas(obj: Obj) -> int:
    return int(obj.get("spec", {}).get("replicas", 1))


# --- ReplicaSet -------------------------------------------------------------------------


def _deletion_rank(pod: Obj) -> tuple[int, int, str]:
    """Pods a ReplicaSet removes first: unscheduled, then not ready, then newest."""
    scheduled = 1 if pod.get("spec", {}).get("nodeName") else 0
    return (scheduled, 1 if pod_ready(pod) else 0, "~" + pod["metadata"].get("creationTimestamp", ""))


def sync_replicaset(ctx: Context, rs: Obj) -> None:
    """Create or delete pods to match spec.replicas, then report status."""
    owned = ctx.owned("Pod", rs)
    for pod in owned:
        if pod.get("status", {}).get("phase") == "Failed" and not pod["metadata"].get("deletionTimestamp"):
            ctx.delete("Pod", pod)
    pods = [p for p in owned if pod_active(p)]
    diff = _spec_replicas(rs) - len(pods)
    template = rs.get("spec", {}).get("template") or {}
    for _ in range(max(diff, 0)):
        created = ctx.create("Pod", ctx.pod_from_template(rs, template))
        if created:
            pods.append(created)
            message = f"Created pod: {created['metadata']['name']}"
            ctx.event(rs, type_="Normal", reason="SuccessfulCreate", message=message, component="replicaset-controller")
    if diff < 0:
        doomed = sorted(pods, key=_deletion_rank)[:-diff]
        for pod in doomed:
            ctx.delete("Pod", pod)
            message = f"Deleted pod: {pod['metadata']['name']}"
            ctx.event(rs, type_="Normal", reason="SuccessfulDelete", message=message, component="replicaset-controller")
        pods = [p for p in pods if p not in doomed]
    min_ready = int(rs.get("spec", {}).get("minReadySeconds", 0))
    ready = [p for p in pods if pod_ready(p)]
    available = [p for p in ready if min_ready == 0 or _ready_for(ctx, p, min_ready)]
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": len(ready),
        "availableReplicas": len(available),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    ctx.set_status("ReplicaSet", rs, status)


def _ready_for(ctx: Context, pod: Obj, seconds: int) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return ctx.later(cond.get("lastTransitionTime"), seconds)
    return False


# --- Deployment -------------------------------------------------------------------------


def _scale(ctx: Context, rs: Obj, replicas: int, revision: int | None = None) -> None:
    def change(obj: Obj) -> None:
        obj["spec"]["replicas"] = max(replicas, 0)
        if revision is not None:
            obj["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

    before = _spec_replicas(rs)
    if before != replicas or (revision is not None and _revision(rs) != revision):
        ctx.store.mutate("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"], change)
    _scaling_event(ctx, rs, before, replicas)


def _scaling_event(ctx: Context, rs: Obj, before: int, after: int) -> None:
    """The Deployment's ScalingReplicaSet event, worded as the deployment controller words it."""
    deployment = owner_reference(rs, "Deployment")
    if before == after or deployment is None:
        return
    direction = "up" if after > before else "down"
    message = f"Scaled {direction} replica set {rs['metadata']['name']} to {max(after, 0)} from {before}"
    ctx.event(
        deployment, type_="Normal", reason="ScalingReplicaSet", message=message, component="deployment-controller"
    )


def _new_replicaset(ctx: Context, deploy: Obj, pod_hash: str, revision: int, replicas: int) -> Obj | None:
    template = copy.deepcopy(deploy["spec"].get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
    selector = copy.deepcopy(deploy["spec"].get("selector") or {})
    selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
    meta = deploy["metadata"]
    rs = {
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(_spec_replicas(deploy)),
            },
            "ownerReferences": [owner_ref(deploy)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": deploy["spec"].get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
    }
    created = ctx.create("ReplicaSet", rs)
    if created is not None:
        _scaling_event(ctx, created, 0, replicas)
    return created


def _rolling(ctx: Context, deploy: Obj, new: Obj, old: list[Obj]) -> None:
    desired = _spec_replicas(deploy)
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        for rs in old:
            _scale(ctx, rs, 0)
        if all(rs.get("status", {}).get("replicas", 0) == 0 for rs in old):
            _scale(ctx, new, desired)
        return
    rolling = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    total = sum(_spec_replicas(rs) for rs in [new, *old])
    new_replicas = _spec_replicas(new)
    if new_replicas > desired or not old:
        new_replicas = desired
    elif new_replicas < desired:
        new_replicas = min(desired, new_replicas + max(0, desired + surge - total))
    _scale(ctx, new, new_replicas)
    available = sum(int(rs.get("status", {}).get("availableReplicas", 0)) for rs in [new, *old])
    budget = max(0, available - (desired - unavailable))
    for rs in sorted(old, key=_revision):
        replicas = _spec_replicas(rs)
        if replicas == 0:
            continue
        unhealthy = max(0, replicas - int(rs.get("status", {}).get("availableReplicas", 0)))
        take = min(replicas, unhealthy + budget)
        budget -= max(0, take - unhealthy)
        _scale(ctx, rs, replicas - take)


def _prune(ctx: Context, deploy: Obj, old: list[Obj]) -> None:
    limit = int(deploy["spec"].get("revisionHistoryLimit", 10))
    idle = [
        rs for rs in sorted(old, key=_revision) if _spec_replicas(rs) == 0 and not rs.get("status", {}).get("replicas")
    ]
    for rs in idle[: max(0, len(idle) - limit)]:
        ctx.delete("ReplicaSet", rs)


def _template_hash(ctx: Context, deploy: Obj) -> str:
    """The pod-template hash, computed once per generation of the Deployment."""
    memo: dict[str, tuple[Any, str]] = ctx.memo.setdefault("template-hash", {})
    meta = deploy["metadata"]
    template = deploy["spec"].get("template") or {}
    seen = memo.get(meta["uid"])
    if seen is not None and seen[0] is template:
        return seen[1]
    digest = template_hash(template)
    memo[meta["uid"]] = (template, digest)
    return digest


def sync_deployment(ctx: Context, deploy: Obj) -> None:
    """Own the ReplicaSet of the current template, roll towards it, prune history, report status."""
    owned = ctx.owned("ReplicaSet", deploy)
    pod_hash = _template_hash(ctx, deploy)
    new = next((rs for rs in owned if rs["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash), None)
    top = max((_revision(rs) for rs in owned), default=0)
    progressed = False
    if new is None:
        initial = 0 if any(_spec_replicas(rs) for rs in owned) else _spec_replicas(deploy)
        created = _new_replicaset(ctx, deploy, pod_hash, top + 1, initial)
        if created is None:
            return
        new, revision, progressed = created, top + 1, True
    elif _revision(new) < top:
        _scale(ctx, new, _spec_replicas(new), top + 1)
        revision, progressed = top + 1, True
    else:
        revision = _revision(new)
    old = [rs for rs in owned if rs["metadata"]["uid"] != new["metadata"]["uid"]]
    if not deploy["spec"].get("paused"):
        _rolling(ctx, deploy, new, old)
        _prune(ctx, deploy, old)
    if (deploy["metadata"].get("annotations") or {}).get(REVISION) != str(revision):

        def annotate(obj: Obj) -> None:
            obj["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

        ctx.store.mutate("Deployment", deploy["metadata"]["namespace"], deploy["metadata"]["name"], annotate)
        deploy = ctx.store.get("Deployment", deploy["metadata"]["namespace"], deploy["metadata"]["name"])
    _deployment_status(ctx, deploy, new, old, progressed=progressed)


def _deployment_status(ctx: Context, deploy: Obj, new: Obj, old: list[Obj], *, progressed: bool) -> None:
    desired = _spec_replicas(deploy)
    every = [new, *old]
    total = sum(int(rs.get("status", {}).get("replicas", 0)) for rs in every)
    updated = int(new.get("status", {}).get("replicas", 0))
    ready = sum(int(rs.get("status", {}).get("readyReplicas", 0)) for rs in every)
    available = sum(int(rs.get("status", {}).get("availableReplicas", 0)) for rs in every)
    rolling = (deploy["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    max_unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    old_status = deploy.get("status") or {}
    counts = {"replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available}
    grown = ("updatedReplicas", "readyReplicas", "availableReplicas")
    progressed = progressed or any(counts[k] > old_status.get(k, 0) for k in grown)
    conditions = list(old_status.get("conditions") or [])
    ok = available >= desired - max_unavailable
    conditions = with_condition(
        conditions,
        {
            "type": "Available",
            "status": "True" if ok else "False",
            "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if ok
            else "Deployment does not have minimum availability.",
            "lastUpdateTime": ctx.stamp,
        },
        ctx.stamp,
    )
    complete = updated == desired and total == desired and available == desired
    name = new["metadata"]["name"]
    prev = next((c for c in conditions if c["type"] == "Progressing"), None)
    deadline = float(deploy["spec"].get("progressDeadlineSeconds", 600))
    if complete:
        progressing = {
            "status": "True",
            "reason": "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{name}" has successfully progressed.',
        }
    elif progressed or prev is None:
        progressing = {
            "status": "True",
            "reason": "ReplicaSetUpdated",
            "message": f'ReplicaSet "{name}" is progressing.',
        }
    elif prev.get("reason") == "ReplicaSetUpdated" and ctx.later(prev.get("lastUpdateTime"), deadline):
        progressing = {
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{name}" has timed out progressing.',
        }
    else:
        progressing = {k: prev[k] for k in ("status", "reason", "message")}
    conditions = with_condition(
        conditions, {"type": "Progressing", **progressing, "lastUpdateTime": ctx.stamp}, ctx.stamp, touch=progressed
    )
    status: Obj = {
        "observedGeneration": deploy["metadata"].get("generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": conditions,
    }
    if desired - available > 0 or total - available > 0:
        status["unavailableReplicas"] = max(0, max(desired, total) - available)
    ctx.set_status("Deployment", deploy, {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"})
