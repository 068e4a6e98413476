"""The alert is a claim, the cluster is the fact.

An alert asserts a state: a node is NotReady, a pod crash-loops, a workload misses replicas, a
rollout is stuck. `premise_of` turns an alert into that claim (`AlertPremise`) about one subject;
the probes read the subject's state (`SubjectState`); `premise_preconditions` judges the pair. An
alert the cluster contradicts is a failed precondition, whatever the action.

Only a clear contradiction fails: a subject that is gone or not readable proves nothing (a
crash-looping pod may have been replaced), and the check stays quiet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from actions.base import Precondition


class Claim(StrEnum):
    """What an alert asserts about its subject."""

    NODE_NOT_READY = "node_not_ready"
    POD_UNHEALTHY = "pod_unhealthy"
    REPLICAS_MISSING = "replicas_missing"
    ROLLOUT_STUCK = "rollout_stuck"


ALERT_CLAIMS: Mapping[str, tuple[Claim, str, str]] = {
    "KubeNodeNotReady": (Claim.NODE_NOT_READY, "Node", "node"),
    "KubePodCrashLooping": (Claim.POD_UNHEALTHY, "Pod", "pod"),
    "KubeContainerWaiting": (Claim.POD_UNHEALTHY, "Pod", "pod"),
    "KubePodNotReady": (Claim.POD_UNHEALTHY, "Pod", "pod"),
    "KubeDeploymentReplicasMismatch": (Claim.REPLICAS_MISSING, "Deployment", "deployment"),
    "KubeStatefulSetReplicasMismatch": (Claim.REPLICAS_MISSING, "StatefulSet", "statefulset"),
    "KubeDeploymentRolloutStuck": (Claim.ROLLOUT_STUCK, "Deployment", "deployment"),
    "KubeStatefulSetUpdateNotRolledOut": (Claim.ROLLOUT_STUCK, "StatefulSet", "statefulset"),
    "KubeDaemonSetRolloutStuck": (Claim.ROLLOUT_STUCK, "DaemonSet", "daemonset"),
}
"""Alert name -> (the claim, the subject's kind, the label naming the subject)."""


@dataclass(frozen=True)
class AlertPremise:
    """One alert's claim about one object."""

    alert: str
    claim: Claim
    kind: str
    name: str
    namespace: str | None = None


def premise_of(alert: str, labels: Mapping[str, str]) -> AlertPremise | None:
    """The claim an alert makes, or None when its name asserts nothing checkable."""
    known = ALERT_CLAIMS.get(alert)
    if known is None:
        return None
    claim, kind, label = known
    name = labels.get(label)
    if not name:
        return None
    namespace = None if kind == "Node" else labels.get("namespace")
    if kind != "Node" and not namespace:
        return None
    return AlertPremise(alert, claim, kind, name, namespace)


@dataclass(frozen=True)
class SubjectState:
    """What the probes read about a premise's subject. None: not established."""

    exists: bool
    ready: bool | None = None
    """Node: the Ready condition. Pod: running, Ready, every container ready and none waiting.
    Workload: every desired replica ready and available."""
    rollout_complete: bool | None = None
    """Workload: the controller observed the spec and every replica runs the newest template."""
    detail: str = ""


@dataclass(frozen=True)
class PremiseFacts:
    """Each premise of the incident's alerts with its subject's state, read at `read_at`."""

    read_at: datetime
    items: tuple[tuple[AlertPremise, SubjectState], ...] = ()


def contradiction(premise: AlertPremise, state: SubjectState) -> str | None:
    """Why the cluster contradicts the premise, or None when it does not (or cannot tell)."""
    where = (
        f"{premise.kind} {premise.namespace}/{premise.name}" if premise.namespace else f"{premise.kind} {premise.name}"
    )
    if not state.exists:
        return None
    match premise.claim:
        case Claim.NODE_NOT_READY | Claim.POD_UNHEALTHY | Claim.REPLICAS_MISSING:
            if state.ready is True:
                return f"{premise.alert} claims {where} is not healthy, but it is ready ({state.detail})"
        case Claim.ROLLOUT_STUCK:
            if state.rollout_complete is True and state.ready is True:
                return f"{premise.alert} claims the rollout of {where} is stuck, but it is complete ({state.detail})"
        case _:
            assert_never(premise.claim)
    return None


def premise_preconditions(facts: PremiseFacts | None) -> list[Precondition]:
    """One precondition per premise: it holds unless the cluster contradicts the alert."""
    if facts is None:
        return []
    checks = []
    for premise, state in facts.items:
        reason = contradiction(premise, state)
        detail = reason or f"{premise.alert}: the cluster does not contradict it"
        checks.append(Precondition("alert_premise", reason is None, detail))
    return checks
