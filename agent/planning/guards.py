"""Runbook guards: conditions read from the cluster that decide whether a rule applies.

Each guard also fills the template context (`target.*`, `container.*`, `configmap.*`, ...)
and returns the facts it saw; those become the proposal's claims, which the risk layer checks
against its own probes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from agent.planning.changes import (
    ChangeHistory,
    container_resources,
    nothing_to_undo,
    object_changed_at,
    oom_killed_containers,
    referenced_configmaps,
    revision_history,
    revisions,
)
from agent.planning.runbook_schema import Guards
from agent.planning.targets import WORKLOAD_KINDS, ClusterReader, ResolvedTarget

Obj = dict[str, Any]
ROLLOUT_SKEW = timedelta(minutes=2)
"""A ConfigMap written this close to a rollout counts as part of it (charts roll pods on config checksums)."""


class GuardFailed(Exception):
    """A guard does not hold; the rule does not apply (the reason goes to the trace)."""


def _hours(window: timedelta) -> str:
    return f"{window.total_seconds() / 3600:g}h"


def base_context(target: ResolvedTarget) -> dict[str, Any]:
    """The target's part of the template context."""
    spec = (target.obj or {}).get("spec", {})
    context: dict[str, Any] = {
        "target": {
            "kind": target.kind,
            "name": target.name,
            "namespace": target.namespace,
            "container": target.container,
            "pod": target.pod,
            "replicas": spec.get("replicas") if target.obj else None,
        },
        "node": {"name": target.name if target.kind == "Node" else target.labels.get("node")},
    }
    if target.kind == "Service":
        context["service"] = {"name": target.name, "namespace": target.namespace, "exists": target.exists}
    if target.hpa is not None:
        hpa_spec, status = target.hpa.get("spec", {}), target.hpa.get("status", {})
        context["hpa"] = {
            "name": target.hpa.get("metadata", {}).get("name"),
            "min_replicas": hpa_spec.get("minReplicas", 1),
            "max_replicas": hpa_spec.get("maxReplicas"),
            "current_replicas": status.get("currentReplicas"),
        }
    if target.container and target.obj is not None:
        context["container"] = {"name": target.container, **container_resources(target.obj, target.container)}
    return context


def _workload(target: ResolvedTarget, guard: str) -> Obj:
    if target.obj is None or target.kind not in WORKLOAD_KINDS:
        raise GuardFailed(f"{guard}: the target {target.kind} {target.name} is not an existing workload")
    return target.obj


def _workload_changed(
    target: ResolvedTarget,
    window: timedelta,
    reader: ClusterReader,
    now: datetime,
    *,
    history: ChangeHistory | None,
    before: datetime | None = None,
) -> Obj:
    past = revision_history(reader, _workload(target, "workload_changed_within"))
    info = revisions(past)
    if info.count < 2 or info.newest_created is None:
        # No controller history (a workload deleted and re-created, history pruned): the agent's
        # own records may still hold a version from before, which rollback_workload restores.
        kept = history.changed_at(target.kind, target.namespace, target.name) if history else None
        if kept is not None and kept >= now - window:
            return {"workload_changed_at": kept, "revisions": info.count, "history": "snapshots"}
        raise GuardFailed(f"workload_changed_within: {target.kind} {target.name} has no earlier revision to go back to")
    if info.newest_created < now - window:
        changed = info.newest_created.isoformat()
        raise GuardFailed(f"workload_changed_within: last changed {changed}, not in the last {_hours(window)}")
    if before is not None and nothing_to_undo(past, before):
        raise GuardFailed(
            f"workload_changed_within: {target.kind} {target.name} runs the template it ran before the "
            "incident (only restarted since); rolling back would change nothing"
        )
    return {"workload_changed_at": info.newest_created, "revisions": info.count}


def _configmap_changed(
    target: ResolvedTarget,
    *,
    window: timedelta,
    reader: ClusterReader,
    now: datetime,
    context: dict[str, Any],
    history: ChangeHistory | None,
) -> Obj:
    workload = _workload(target, "configmap_changed_within")
    # A rollout after the ConfigMap's change is the likelier cause: leave it to a rollback rule.
    rollout = revisions(revision_history(reader, workload)).newest_created
    since = max(now - window, rollout - ROLLOUT_SKEW) if rollout is not None else now - window
    recent: list[tuple[datetime, str, bool]] = []
    for name in referenced_configmaps(workload):
        obj = reader.try_get("ConfigMap", name, target.namespace)
        changed = object_changed_at(obj, history) if obj is not None else now
        if changed is not None and changed >= since:
            recent.append((changed, name, obj is not None))
    if not recent:
        raise GuardFailed(
            f"configmap_changed_within: no ConfigMap of {target.name} changed in the last {_hours(window)}"
        )
    changed, name, exists = max(recent)
    context["configmap"] = {"name": name, "changed_at": changed, "exists": exists}
    return {"configmap": name, "configmap_changed_at": changed}


def _service_changed(target: ResolvedTarget, window: timedelta, now: datetime, history: ChangeHistory | None) -> Obj:
    if target.kind != "Service":
        raise GuardFailed(f"service_changed_within: the target is a {target.kind}, not a Service")
    if target.obj is None:
        return {"service_exists": False}
    changed = object_changed_at(target.obj, history)
    if changed is None or changed < now - window:
        raise GuardFailed(f"service_changed_within: Service {target.name} unchanged in the last {_hours(window)}")
    return {"service_exists": True, "service_changed_at": changed}


def _oom_killed(
    target: ResolvedTarget, reader: ClusterReader, labels: Mapping[str, str], context: dict[str, Any]
) -> Obj:
    killed = oom_killed_containers(reader, target.namespace, target.pod)
    if not killed and labels.get("reason") == "OOMKilled" and target.container:
        killed = [target.container]
    if not killed:
        raise GuardFailed("oom_killed: no container of the alert's pod was OOMKilled")
    container = target.container if target.container in killed else killed[0]
    workload = _workload(target, "oom_killed")
    context["container"] = {"name": container, **container_resources(workload, container)}
    context["target"]["container"] = container
    return {"oom_killed": killed, "container": container, **container_resources(workload, container)}


def check_guards(
    guards: Guards,
    target: ResolvedTarget,
    context: dict[str, Any],
    *,
    reader: ClusterReader,
    labels: Mapping[str, str],
    now: datetime,
    history: ChangeHistory | None = None,
) -> dict[str, Any]:
    """Check every guard the rule sets; fill `context` and return the facts seen. GuardFailed if one fails."""
    context.update(base_context(target))
    facts: dict[str, Any] = {"target": f"{target.kind}/{target.namespace or ''}/{target.name}".replace("//", "/")}
    if target.obj is not None and "replicas" in target.obj.get("spec", {}):
        facts["replicas"] = target.obj["spec"]["replicas"]
    if guards.replicas is not None and facts.get("replicas") != guards.replicas:
        raise GuardFailed(f"replicas: spec.replicas is {facts.get('replicas')}, the rule wants {guards.replicas}")
    if guards.workload_changed_within is not None:
        before = (context.get("incident") or {}).get("before")
        facts.update(
            _workload_changed(target, guards.workload_changed_within, reader, now, history=history, before=before)
        )
    if guards.configmap_changed_within is not None:
        facts.update(
            _configmap_changed(
                target,
                window=guards.configmap_changed_within,
                reader=reader,
                now=now,
                context=context,
                history=history,
            )
        )
    if guards.service_changed_within is not None:
        facts.update(_service_changed(target, guards.service_changed_within, now, history))
    if guards.oom_killed:
        facts.update(_oom_killed(target, reader, labels, context))
    if guards.hpa_at_max:
        hpa = context.get("hpa")
        if hpa is None or hpa["current_replicas"] is None or hpa["current_replicas"] < (hpa["max_replicas"] or 0):
            raise GuardFailed("hpa_at_max: the HPA does not run at its maxReplicas")
        facts["hpa_max_replicas"] = hpa["max_replicas"]
    return facts
