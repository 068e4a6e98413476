"""Concrete situations give the expected verdict under default settings."""

from __future__ import annotations

import pytest

from risk.assess import assess
from risk.model import Component, Verdict
from risk.settings import PolicySettings, RiskSettings
from tests.risk.builders import NOW, restart, workload_facts
from tests.risk.situations import Situation, situations

CASES = situations()


def test_the_table_covers_at_least_fifteen_situations() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_situation_gets_expected_verdict(case: Situation) -> None:
    risk, decision = assess(case.proposal, case.facts, RiskSettings(), PolicySettings(shadow=case.shadow), now=NOW)
    assert decision.verdict is case.expected, (risk.as_json(), decision.rules)
    assert decision.rules, "every decision names the rules that produced it"
    assert decision.shadow is case.shadow


def _by_name(name: str) -> Situation:
    return next(c for c in CASES if c.name == name)


def test_restart_of_one_replica_scores_higher_than_of_ten() -> None:
    one = _by_name("restart of a 1-replica Deployment")
    ten = _by_name("restart of a 10-replica Deployment")
    r1, _ = assess(one.proposal, one.facts, RiskSettings(), PolicySettings(), now=NOW)
    r10, _ = assess(ten.proposal, ten.facts, RiskSettings(), PolicySettings(), now=NOW)
    assert r1.total > r10.total
    assert "restarts 1 of 1 ready replicas at a time" in r1.components[Component.BLAST_RADIUS].reasons


def test_drain_reason_names_pods_and_workloads() -> None:
    case = _by_name("drain of a node running 40 pods of 12 workloads")
    risk, _ = assess(case.proposal, case.facts, RiskSettings(), PolicySettings(), now=NOW)
    assert "node runs 40 pods of 12 workloads" in risk.components[Component.BLAST_RADIUS].reasons


def test_emptydir_eviction_reason_says_data_is_lost() -> None:
    case = _by_name("eviction of a pod with emptyDir data")
    risk, _ = assess(case.proposal, case.facts, RiskSettings(), PolicySettings(), now=NOW)
    assert "pod has emptyDir data that eviction loses" in risk.components[Component.REVERSIBILITY].reasons


def test_contradicting_claim_is_recorded_in_state_validity() -> None:
    case = _by_name("a planner claim that contradicts the cluster")
    risk, _ = assess(case.proposal, case.facts, RiskSettings(), PolicySettings(), now=NOW)
    reasons = risk.components[Component.STATE_VALIDITY].reasons
    assert any("planner claimed ready_replicas=10, probes saw 2" in r for r in reasons)


def test_protected_namespace_rule_is_named() -> None:
    _, decision = assess(
        restart(namespace="kube-system"), workload_facts(10), RiskSettings(), PolicySettings(), now=NOW
    )
    assert "veto: namespace kube-system is protected" in decision.rules


def test_agent_namespace_is_protected() -> None:
    policy = PolicySettings(agent_namespace="ops-agent")
    _, decision = assess(restart(namespace="ops-agent"), workload_facts(10), RiskSettings(), policy, now=NOW)
    assert decision.verdict is Verdict.DENY


def test_shadow_mode_marks_the_decision_and_says_so() -> None:
    _, decision = assess(restart(), workload_facts(10), RiskSettings(), PolicySettings(shadow=True), now=NOW)
    assert decision.shadow
    assert "shadow mode: decision recorded, nothing will run" in decision.rules
