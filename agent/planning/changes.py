"""What changed recently, read from the cluster: the facts runbook guards are made of.

A workload's last change is the creation of its newest revision (ReplicaSet for a Deployment,
ControllerRevision for a StatefulSet or DaemonSet); a ConfigMap's or Service's is the newest
write recorded in its managedFields (or its creation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from actions.objects import parse_time
from actions.revisions import Revision, history_kind, revisions_of
from agent.planning.targets import ClusterReader, pod_template_containers
from risk.sources import owned_by

Obj = dict[str, Any]


class ChangeHistory(Protocol):
    """When the agent last saw an object change (the snapshot keeper's records)."""

    def changed_at(self, kind: str, namespace: str | None, name: str) -> datetime | None:
        """Time of the newest recorded version of the object, or None when none is recorded."""
        ...


@dataclass(frozen=True)
class RevisionInfo:
    """How many revisions the cluster holds for a workload and when the newest was created."""

    count: int
    newest_created: datetime | None


def _owned_by(obj: Obj, owner: Obj) -> bool:
    meta = owner.get("metadata", {})
    uid, name = meta.get("uid"), meta.get("name")
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if (uid and ref.get("uid") == uid) or (not uid and ref.get("name") == name):
            return True
    return False


def _by_number(revision: Revision) -> tuple[int, datetime]:
    """A Deployment's rollback re-uses an old ReplicaSet under a new number: the highest number is
    the newest revision, whatever its creation time."""
    return revision.number, revision.created


def revision_history(reader: ClusterReader, workload: Obj) -> list[Revision]:
    """The workload's revisions as the cluster holds them (the one reader, `actions.revisions`),
    newest number last."""
    namespace = workload.get("metadata", {}).get("namespace")
    kind = history_kind(str(workload.get("kind", "")))
    uid = workload.get("metadata", {}).get("uid")
    if uid:
        owned = owned_by(reader, kind, namespace, str(uid))
    else:
        owned = [o for o in reader.list(kind, namespace) if _owned_by(o, workload)]
    return sorted(revisions_of(owned), key=_by_number)


def revisions(history: list[Revision]) -> RevisionInfo:
    """How many revisions there are and when the newest was created."""
    if not history:
        return RevisionInfo(0, None)
    return RevisionInfo(len(history), history[-1].created)


def nothing_to_undo(history: list[Revision], before: datetime) -> bool:
    """True when the template running now (the newest of `history`) is the one that was serving
    at `before` but for a restart: rolling back to before the incident would change nothing but
    the restart time.

    (A patch followed by a restart is not that case: the template serving at `before` is the one
    from before the patch.)"""
    serving = [r for r in history if r.created < before]
    if not history or not serving:
        return False
    newest, then = history[-1], max(serving, key=_by_number)
    return bool(newest.template.get("spec")) and newest.digest == then.digest  # an unreadable template proves nothing


def object_changed_at(obj: Obj, history: ChangeHistory | None = None) -> datetime | None:
    """The newest modification of an object after its creation (managedFields times, the agent's
    records), or None when it was never modified: a fresh object has no older version to restore."""
    meta = obj.get("metadata", {})
    created = parse_time(meta.get("creationTimestamp"))
    times = [parse_time(entry.get("time")) for entry in meta.get("managedFields") or []]
    if history is not None:
        times.append(history.changed_at(str(obj.get("kind", "")), meta.get("namespace"), str(meta.get("name", ""))))
    known = [t for t in times if t is not None and (created is None or t > created)]
    return max(known) if known else None


def _pod_spec(workload: Obj) -> Obj:
    spec = workload.get("spec", {})
    if workload.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if workload.get("kind") == "Pod":
        return dict(spec)
    pod_spec: Obj = spec.get("template", {}).get("spec", {})
    return pod_spec


def referenced_configmaps(workload: Obj) -> list[str]:
    """ConfigMaps the workload's pods read (volumes, envFrom, env valueFrom), in first-seen order."""

    def walk() -> Iterator[str]:
        pod_spec = _pod_spec(workload)
        for volume in pod_spec.get("volumes") or []:
            if volume.get("configMap", {}).get("name"):
                yield volume["configMap"]["name"]
            for source in volume.get("projected", {}).get("sources") or []:
                if source.get("configMap", {}).get("name"):
                    yield source["configMap"]["name"]
        for container in [*(pod_spec.get("initContainers") or []), *pod_template_containers(workload)]:
            for env_from in container.get("envFrom") or []:
                if env_from.get("configMapRef", {}).get("name"):
                    yield env_from["configMapRef"]["name"]
            for env in container.get("env") or []:
                ref = env.get("valueFrom", {}).get("configMapKeyRef", {})
                if ref.get("name"):
                    yield ref["name"]

    return list(dict.fromkeys(walk()))


def container_resources(workload: Obj, container: str) -> dict[str, str | None]:
    """A container's requests and limits as quantities (None when unset)."""
    for c in pod_template_containers(workload):
        if c.get("name") == container:
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            return {
                "cpu_request": req.get("cpu"),
                "cpu_limit": lim.get("cpu"),
                "memory_request": req.get("memory"),
                "memory_limit": lim.get("memory"),
            }
    return {"cpu_request": None, "cpu_limit": None, "memory_request": None, "memory_limit": None}


def oom_killed_containers(reader: ClusterReader, namespace: str | None, pod: str | None) -> list[str]:
    """Containers of the pod whose last termination was OOMKilled (empty when the pod is gone)."""
    if not pod:
        return []
    obj = reader.try_get("Pod", pod, namespace)
    if obj is None:
        return []
    found = []
    for status in obj.get("status", {}).get("containerStatuses") or []:
        for state in (status.get("lastState") or {}, status.get("state") or {}):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                found.append(str(status.get("name")))
                break
    return found
