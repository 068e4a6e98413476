"""Alert rules evaluated from cluster state, named and labelled as the kubernetes-mixin rules
are over kube-state-metrics, and served as Alertmanager API v2 `GettableAlert` objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simcluster.clock import rfc3339
from simcluster.store import ObjectStore

Obj = dict[str, Any]
Labels = dict[str, str]
RUNBOOK = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{}"
DEPENDS_ON = "sim.scutum.dev/depends-on"
JOB_TIMEOUT_SECONDS = 3600.0  # the mixin's kubeJobTimeoutDuration, set to 1h for this cluster
OOM_WINDOW_SECONDS = 600.0


@dataclass(frozen=True)
class Rule:
    """One alerting rule: its name, the mixin's `for` (seconds), severity and how to find offenders."""

    name: str
    for_seconds: float
    severity: str
    summary: str
    description: str
    find: Callable[[ObjectStore, datetime], Iterator[Labels]]


def _objects(store: ObjectStore, kind: str) -> list[Obj]:
    return sorted(store.iter_kind(kind), key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def _ns(obj: Obj) -> str:
    return str(obj["metadata"].get("namespace", ""))


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _container_states(store: ObjectStore) -> Iterator[tuple[Obj, Obj]]:
    for pod in _objects(store, "Pod"):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            yield pod, status


def _crashlooping(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for pod, cs in _container_states(store):
        if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            yield {"namespace": _ns(pod), "pod": _name(pod), "container": cs["name"]}


def _waiting(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for pod, cs in _container_states(store):
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason and reason != "CrashLoopBackOff":
            yield {"namespace": _ns(pod), "pod": _name(pod), "container": cs["name"], "reason": reason}


def _oom(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for pod, cs in _container_states(store):
        last = (cs.get("lastState") or {}).get("terminated") or {}
        finished = _time(last.get("finishedAt"))
        if last.get("reason") == "OOMKilled" and finished and now - finished <= timedelta(seconds=OOM_WINDOW_SECONDS):
            yield {"namespace": _ns(pod), "pod": _name(pod), "container": cs["name"]}


def _pod_not_ready(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for pod in _objects(store, "Pod"):
        owners = {r.get("kind") for r in pod["metadata"].get("ownerReferences") or []}
        if "Job" not in owners and (pod.get("status") or {}).get("phase", "Pending") in (
            "Pending",
            "Unknown",
            "Failed",
        ):
            yield {"namespace": _ns(pod), "pod": _name(pod)}


def _stuck_terminating(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for pod in _objects(store, "Pod"):
        since = _time(pod["metadata"].get("deletionTimestamp"))
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        if since and now > since + timedelta(seconds=grace):
            yield {"namespace": _ns(pod), "pod": _name(pod)}


def _deployment_mismatch(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for d in _objects(store, "Deployment"):
        if int(d["spec"].get("replicas", 1)) > int((d.get("status") or {}).get("availableReplicas", 0)):
            yield {"namespace": _ns(d), "deployment": _name(d)}


def _rollout_stuck(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for d in _objects(store, "Deployment"):
        for cond in (d.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("status") == "False":
                yield {"namespace": _ns(d), "deployment": _name(d)}


def _sts_mismatch(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for s in _objects(store, "StatefulSet"):
        if int(s["spec"].get("replicas", 1)) != int((s.get("status") or {}).get("readyReplicas", 0)):
            yield {"namespace": _ns(s), "statefulset": _name(s)}


def _sts_not_rolled_out(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for s in _objects(store, "StatefulSet"):
        status = s.get("status") or {}
        if status.get("currentRevision") != status.get("updateRevision"):
            yield {"namespace": _ns(s), "statefulset": _name(s)}


def _ds_stuck(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for ds in _objects(store, "DaemonSet"):
        st = ds.get("status") or {}
        desired = st.get("desiredNumberScheduled", 0)
        keys = ("currentNumberScheduled", "updatedNumberScheduled", "numberAvailable")
        if any(st.get(k, 0) != desired for k in keys) or st.get("numberMisscheduled", 0):
            yield {"namespace": _ns(ds), "daemonset": _name(ds)}


def _hpa_maxed(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for hpa in _objects(store, "HorizontalPodAutoscaler"):
        spec, st = hpa.get("spec") or {}, hpa.get("status") or {}
        high = int(spec.get("maxReplicas", 1))
        if int(spec.get("minReplicas", 1)) != high and int(st.get("currentReplicas", 0)) == high:
            yield {"namespace": _ns(hpa), "horizontalpodautoscaler": _name(hpa)}


def _node_conditions(store: ObjectStore) -> Iterator[tuple[Obj, Obj]]:
    for node in _objects(store, "Node"):
        for cond in (node.get("status") or {}).get("conditions") or []:
            yield node, cond


def _node_not_ready(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for node, cond in _node_conditions(store):
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            yield {"node": _name(node)}


def _node_pressure(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for node, cond in _node_conditions(store):
        if cond.get("type") in ("MemoryPressure", "DiskPressure", "PIDPressure") and cond.get("status") == "True":
            yield {"node": _name(node), "condition": str(cond["type"])}


def _job_failed(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for job in _objects(store, "Job"):
        if any(
            c.get("type") == "Failed" and c.get("status") == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        ):
            yield {"namespace": _ns(job), "job_name": _name(job)}


def _job_not_completed(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    for job in _objects(store, "Job"):
        st = job.get("status") or {}
        started = _time(st.get("startTime"))
        if st.get("active") and started and (now - started).total_seconds() > JOB_TIMEOUT_SECONDS:
            yield {"namespace": _ns(job), "job_name": _name(job)}


def _no_endpoints(store: ObjectStore, now: datetime) -> Iterator[Labels]:
    wanted: set[tuple[str, str]] = set()
    for svc in _objects(store, "Service"):
        if (svc.get("spec") or {}).get("selector"):
            wanted.add((_ns(svc), _name(svc)))
    for deploy in _objects(store, "Deployment"):
        for name in ((deploy["metadata"].get("annotations") or {}).get(DEPENDS_ON) or "").split(","):
            if name.strip():
                wanted.add((_ns(deploy), name.strip()))
    endpoints = {(_ns(e), _name(e)): e for e in store.iter_kind("Endpoints")}
    for namespace, name in sorted(wanted):
        subsets = (endpoints.get((namespace, name)) or {}).get("subsets") or []
        exists = store.exists("Service", namespace, name)
        if not exists or not any(s.get("addresses") for s in subsets):
            yield {"namespace": namespace, "service": name}


RULES: tuple[Rule, ...] = (
    Rule("KubePodCrashLooping", 900, "warning", "Pod is crash looping.",
         "Pod {namespace}/{pod} ({container}) is in waiting state (reason: \"CrashLoopBackOff\").", _crashlooping),
    Rule("KubePodNotReady", 900, "warning", "Pod has been in a non-ready state for more than 15 minutes.",
         "Pod {namespace}/{pod} has been in a non-ready state for longer than 15 minutes.", _pod_not_ready),
    Rule("KubeContainerWaiting", 3600, "warning", "Pod container waiting longer than 1 hour",
         "pod/{pod} in namespace {namespace} on container {container} has been in waiting state ({reason}).", _waiting),
    Rule("KubeContainerOOMKilled", 0, "warning", "Container was OOMKilled.",
         "Container {container} in pod {namespace}/{pod} was OOMKilled in the last 10 minutes.", _oom),
    Rule("KubePodStuckTerminating", 900, "warning", "Pod is stuck terminating.",
         "Pod {namespace}/{pod} has outlived its deletion grace period.", _stuck_terminating),
    Rule("KubeDeploymentReplicasMismatch", 900, "warning", "Deployment has not matched the expected replicas.",
         "Deployment {namespace}/{deployment} has not matched the expected number of replicas.", _deployment_mismatch),
    Rule("KubeDeploymentRolloutStuck", 900, "warning", "Deployment rollout is not progressing.",
         "Rollout of deployment {namespace}/{deployment} is not progressing.", _rollout_stuck),
    Rule("KubeStatefulSetReplicasMismatch", 900, "warning", "StatefulSet has not matched the expected replicas.",
         "StatefulSet {namespace}/{statefulset} has not matched the expected number of replicas.", _sts_mismatch),
    Rule("KubeStatefulSetUpdateNotRolledOut", 900, "warning", "StatefulSet update has not been rolled out.",
         "StatefulSet {namespace}/{statefulset} update has not been rolled out.", _sts_not_rolled_out),
    Rule("KubeDaemonSetRolloutStuck", 900, "warning", "DaemonSet rollout is stuck.",
         "DaemonSet {namespace}/{daemonset} has not finished or progressed.", _ds_stuck),
    Rule("KubeHpaMaxedOut", 900, "warning", "HPA is running at max replicas",
         "HPA {namespace}/{horizontalpodautoscaler} has been running at max replicas.", _hpa_maxed),
    Rule("KubeNodeNotReady", 900, "warning", "Node is not ready.",
         "{node} has been unready for more than 15 minutes.", _node_not_ready),
    Rule("KubeNodePressure", 600, "info", "Node has as active Condition.",
         "{node} has active Condition {condition}.", _node_pressure),
    Rule("KubeJobFailed", 900, "warning", "Job failed to complete.",
         "Job {namespace}/{job_name} failed to complete.", _job_failed),
    Rule("KubeJobNotCompleted", 0, "warning", "Job did not complete in time",
         "Job {namespace}/{job_name} is taking more than 1 hour to complete.", _job_not_completed),
    Rule("KubeServiceWithoutEndpoints", 300, "warning", "Service has no ready endpoints.",
         "Service {namespace}/{service} is missing or has no ready endpoints.", _no_endpoints),
)  # fmt: skip


def fingerprint(labels: Labels) -> str:
    """A stable 16-hex-digit hash of an alert's labels, as Alertmanager shows it."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


class AlertEngine:
    """Tracks when each alert's condition began; an alert fires once its pending period passed."""

    def __init__(self, pending_seconds: float | None = 60.0, *, rules: tuple[Rule, ...] = RULES) -> None:
        self.pending_seconds = pending_seconds
        self.rules = rules
        self._since: dict[str, tuple[Rule, Labels, datetime]] = {}

    def _for(self, rule: Rule) -> float:
        return rule.for_seconds if self.pending_seconds is None else min(rule.for_seconds, self.pending_seconds)

    def evaluate(self, store: ObjectStore, now: datetime) -> None:
        """Find every rule's offenders now; new ones start pending, gone ones resolve."""
        seen: dict[str, tuple[Rule, Labels, datetime]] = {}
        with store.lock:
            for rule in self.rules:
                for found in rule.find(store, now):
                    labels = {"alertname": rule.name, **found, "job": "kube-state-metrics", "severity": rule.severity}
                    key = fingerprint(labels)
                    seen[key] = (rule, labels, self._since.get(key, (rule, labels, now))[2])
        self._since = seen

    def firing(self, now: datetime) -> list[Obj]:
        """The firing alerts as Alertmanager v2 `GettableAlert` objects, oldest first."""
        out = []
        for key, (rule, labels, since) in self._since.items():
            starts = since + timedelta(seconds=self._for(rule))
            if now < starts:
                continue
            out.append(
                {
                    "labels": labels,
                    "annotations": {
                        "summary": rule.summary,
                        "description": rule.description.format_map(_Missing(labels)),
                        "runbook_url": RUNBOOK.format(rule.name.lower()),
                    },
                    "startsAt": rfc3339(starts),
                    "endsAt": rfc3339(now + timedelta(minutes=5)),
                    "updatedAt": rfc3339(now),
                    "fingerprint": key,
                    "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
                    "receivers": [{"name": "scutum"}],
                    "generatorURL": f"http://prometheus.sim/graph?g0.expr=ALERTS%7Balertname%3D%22{rule.name}%22%7D",
                }
            )
        return sorted(out, key=lambda a: (a["startsAt"], a["labels"]["alertname"], a["fingerprint"]))


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"
