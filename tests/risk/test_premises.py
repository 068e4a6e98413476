"""Reading a premise's subject: nodes, pods and workloads as the alert claims them."""

from __future__ import annotations

from typing import Any

from risk.premises import subject_state

Obj = dict[str, Any]


def _pod(*, phase: str, ready: bool, waiting: bool) -> Obj:
    state = {"waiting": {"reason": "CrashLoopBackOff"}} if waiting else {"running": {}}
    return {
        "metadata": {"name": "p"},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "ready": ready and not waiting, "state": state}],
        },
    }


def _deployment(*, desired: int, ready: int, updated: int, observed: int = 2) -> Obj:
    status = {
        "observedGeneration": observed,
        "replicas": desired,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    return {"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": desired}, "status": status}


def test_a_node_is_as_ready_as_its_ready_condition() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert subject_state("Node", ready).ready is True
    assert subject_state("Node", {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}).ready is False
    assert subject_state("Node", {"status": {}}).ready is None
    assert not subject_state("Node", None).exists


def test_a_pod_is_healthy_only_running_ready_and_not_waiting() -> None:
    assert subject_state("Pod", _pod(phase="Running", ready=True, waiting=False)).ready is True
    assert subject_state("Pod", _pod(phase="Running", ready=False, waiting=True)).ready is False
    assert subject_state("Pod", _pod(phase="Pending", ready=False, waiting=False)).ready is False


def test_a_workload_is_ready_when_its_rollout_is_complete_and_available() -> None:
    done = subject_state("Deployment", _deployment(desired=3, ready=3, updated=3))
    assert done.ready is True and done.rollout_complete is True
    stuck = subject_state("Deployment", _deployment(desired=3, ready=2, updated=1))
    assert stuck.ready is False and stuck.rollout_complete is False
    unobserved = subject_state("Deployment", _deployment(desired=3, ready=3, updated=3, observed=1))
    assert unobserved.rollout_complete is False


def test_a_workload_scaled_to_zero_proves_nothing() -> None:
    assert subject_state("Deployment", _deployment(desired=0, ready=0, updated=0)).ready is None
