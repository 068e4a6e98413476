"""StatefulSet and DaemonSet controllers with ControllerRevision history."""

from __future__ import annotations

import copy
from typing import Any

from simcluster.controllers.context import Context, int_or_percent, owner_ref, pod_active, pod_ready, template_hash

Obj = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"


def _revision_number(rev: Obj) -> int:
    return int(rev.get("revision", 0))


def sync_revisions(ctx: Context, owner: Obj) -> tuple[str, list[Obj]]:
    """Ensure a ControllerRevision for the owner's current template; returns its name and all revisions."""
    template = owner["spec"].get("template") or {}
    digest = template_hash(template, drop_labels=(REVISION_LABEL,))
    name = f"{owner['metadata']['name']}-{digest}"
    revisions = sorted(ctx.owned("ControllerRevision", owner), key=_revision_number)
    top = max((_revision_number(r) for r in revisions), default=0)
    current = next((r for r in revisions if r["metadata"]["name"] == name), None)
    if current is None:
        clean = copy.deepcopy(template)
        clean.get("metadata", {}).get("labels", {}).pop(REVISION_LABEL, None)
        body = {
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": dict((owner["spec"].get("selector") or {}).get("matchLabels") or {})
                | {REVISION_LABEL: digest},
                "ownerReferences": [owner_ref(owner)],
            },
            "data": {"spec": {"template": {**clean, "$patch": "replace"}}},
            "revision": top + 1,
        }
        created = ctx.create("ControllerRevision", body)
        if created:
            revisions.append(created)
    elif _revision_number(current) < top:

        def bump(obj: Obj) -> None:
            obj["revision"] = top + 1

        revisions = [r for r in revisions if r is not current] + [
            ctx.store.mutate("ControllerRevision", current["metadata"]["namespace"], name, bump)
        ]
    return name, revisions


def _prune_revisions(ctx: Context, owner: Obj, revisions: list[Obj], keep: set[str]) -> None:
    limit = int(owner["spec"].get("revisionHistoryLimit", 10))
    old = [r for r in sorted(revisions, key=_revision_number) if r["metadata"]["name"] not in keep]
    for rev in old[: max(0, len(old) - limit)]:
        ctx.delete("ControllerRevision", rev)


def _pod_revision(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))


def sync_statefulset(ctx: Context, sts: Obj) -> None:
    """Ordered pods `name-0..n-1`; rolling updates from the highest ordinal, blocked by unready pods."""
    update, revisions = sync_revisions(ctx, sts)
    meta, spec = sts["metadata"], sts["spec"]
    replicas = int(spec.get("replicas", 1))
    status = copy.deepcopy(sts.get("status") or {})
    current = status.get("currentRevision") or update
    pods = {p["metadata"]["name"]: p for p in ctx.owned("Pod", sts) if pod_active(p)}
    parallel = spec.get("podManagementPolicy") == "Parallel"
    for ordinal in range(replicas):
        name = f"{meta['name']}-{ordinal}"
        if name in pods:
            continue
        if not parallel and not all(
            pod_ready(pods[f"{meta['name']}-{i}"]) for i in range(ordinal) if f"{meta['name']}-{i}" in pods
        ):
            break
        if ctx.store.try_get("Pod", meta["namespace"], name) is not None:
            break  # the old pod is still terminating
        labels = {
            REVISION_LABEL: update,
            "statefulset.kubernetes.io/pod-name": name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
        created = ctx.create(
            "Pod",
            ctx.pod_from_template(
                sts, spec.get("template") or {}, name=name, extra={"labels": labels, "spec": {"hostname": name}}
            ),
        )
        if created:
            pods[name] = created
        if not parallel:
            break
    ordered = sorted(pods.values(), key=lambda p: int(p["metadata"]["name"].rsplit("-", 1)[1]))
    for pod in reversed(ordered):
        if int(pod["metadata"]["name"].rsplit("-", 1)[1]) >= replicas:
            ctx.delete("Pod", pod)
            pods.pop(pod["metadata"]["name"])
    strategy = spec.get("updateStrategy") or {}
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and all(pod_ready(p) for p in pods.values()):
        stale = [
            p
            for p in ordered
            if p["metadata"]["name"] in pods
            and _pod_revision(p) != update
            and int(p["metadata"]["name"].rsplit("-", 1)[1]) >= partition
        ]
        if stale:
            ctx.delete("Pod", stale[-1])
            pods.pop(stale[-1]["metadata"]["name"])
    live = list(pods.values())
    updated = sum(1 for p in live if _pod_revision(p) == update)
    if updated == replicas and len(live) == replicas:
        current = update
    ready = sum(1 for p in live if pod_ready(p))
    status.update(
        observedGeneration=meta.get("generation", 1),
        replicas=len(live),
        readyReplicas=ready,
        availableReplicas=ready,
        currentReplicas=sum(1 for p in live if _pod_revision(p) == current),
        updatedReplicas=updated,
        currentRevision=current,
        updateRevision=update,
        collisionCount=0,
    )
    _prune_revisions(ctx, sts, revisions, {current, update})
    ctx.set_status(
        "StatefulSet",
        sts,
        {k: v for k, v in status.items() if v != 0 or k in ("replicas", "observedGeneration", "collisionCount")},
    )


def sync_daemonset(ctx: Context, ds: Obj, nodes: list[Obj]) -> None:
    """One pod per matching node; rolling update within maxUnavailable."""
    update, revisions = sync_revisions(ctx, ds)
    spec = ds["spec"]
    template = spec.get("template") or {}
    selector = (template.get("spec") or {}).get("nodeSelector") or {}
    eligible = [
        n["metadata"]["name"]
        for n in nodes
        if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    pods = [p for p in ctx.owned("Pod", ds) if pod_active(p)]
    by_node: dict[str, list[Obj]] = {}
    for pod in pods:
        by_node.setdefault(pod.get("spec", {}).get("nodeName", ""), []).append(pod)
    for node in eligible:
        if node not in by_node:
            labels = {REVISION_LABEL: update}
            created = ctx.create(
                "Pod", ctx.pod_from_template(ds, template, extra={"labels": labels, "spec": {"nodeName": node}})
            )
            if created:
                by_node[node] = [created]
    misscheduled = [p for node, group in by_node.items() if node not in eligible for p in group]
    for pod in misscheduled:
        ctx.delete("Pod", pod)
    placed = [group[0] for node, group in sorted(by_node.items()) if node in eligible]
    rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
    budget = int_or_percent(rolling.get("maxUnavailable", 1), len(eligible), round_up=True) - sum(
        1 for p in placed if not pod_ready(p)
    )
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
        for pod in [p for p in placed if _pod_revision(p) != update]:
            if budget <= 0 and pod_ready(pod):
                break
            ctx.delete("Pod", pod)
            budget -= 1 if pod_ready(pod) else 0
    ready = sum(1 for p in placed if pod_ready(p))
    status = {
        "observedGeneration": ds["metadata"].get("generation", 1),
        "desiredNumberScheduled": len(eligible),
        "currentNumberScheduled": len(placed),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": sum(1 for p in placed if _pod_revision(p) == update),
    }
    if len(eligible) - ready:
        status["numberUnavailable"] = len(eligible) - ready
    _prune_revisions(ctx, ds, revisions, {update})
    ctx.set_status("DaemonSet", ds, status)
