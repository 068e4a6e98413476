"""Preconditions judged on facts: what every action shares, and what only takes effect when the
rollout mechanics allow it."""

from __future__ import annotations

from dataclasses import replace

from actions.base import ActionLimits
from actions.facts import ContainerFacts, Facts
from risk.assess import judge_proposal
from tests.risk.builders import base_facts, proposal, workload, workload_facts

STS = {"kind": "StatefulSet", "namespace": "shop", "name": "db"}


def _stuck_statefulset(*, ordered: bool, ready: int) -> Facts:
    w = replace(
        workload(ready, desired=3, kind="StatefulSet", name="db"),
        containers=(ContainerFacts("app", memory_request="256Mi", memory_limit="512Mi"),),
        ordered_rolling_update=ordered,
    )
    return replace(workload_facts(ready, owner_kind=None), workload=w)


def test_raising_memory_on_an_ordered_statefulset_with_a_stuck_pod_cannot_take_effect() -> None:
    raise_memory = proposal("set_resources", {**STS, "container": "app", "memory_limit": "1Gi"})
    stuck = judge_proposal(raise_memory, _stuck_statefulset(ordered=True, ready=2), ActionLimits())
    assert [c.name for c in stuck.failed] == ["takes_effect"]
    assert "OrderedReady" in stuck.failed[0].detail
    parallel = judge_proposal(raise_memory, _stuck_statefulset(ordered=False, ready=2), ActionLimits())
    healthy = judge_proposal(raise_memory, _stuck_statefulset(ordered=True, ready=3), ActionLimits())
    assert parallel.holds and healthy.holds


def test_a_restart_of_an_ordered_statefulset_with_a_stuck_pod_is_refused_too() -> None:
    restart = proposal("restart_workload", {**STS, "restart_token": "inc-1"})
    judged = judge_proposal(restart, _stuck_statefulset(ordered=True, ready=1), ActionLimits())
    assert [c.name for c in judged.failed] == ["takes_effect"]


def test_a_missing_target_fails_once_and_stops_the_judgement() -> None:
    judged = judge_proposal(
        proposal("set_resources", {**STS, "container": "app", "memory_limit": "1Gi"}), base_facts(exists=False)
    )
    assert [c.name for c in judged.failed] == ["target_exists"]
    assert len(judged.checks) == 1
