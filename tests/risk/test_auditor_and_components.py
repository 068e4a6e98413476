"""The auditor's claim checks and component details the table does not pin."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from actions.registry import get_action
from risk.assess import judge_proposal
from risk.auditor import Audit, ClaimKey, audit
from risk.components import operational_pressure, state_validity
from risk.model import ComponentScore
from risk.settings import RiskSettings
from tests.risk.builders import NOW, restart, revisions, workload, workload_facts

RESTART = get_action("restart_workload")


def test_true_claims_add_nothing() -> None:
    result = audit({"ready_replicas": 10, "alert_firing": True, "target_exists": True}, workload_facts(10))
    assert result == Audit(penalty=0.0)


def test_each_further_false_claim_raises_the_penalty() -> None:
    one = audit({"ready_replicas": 3}, workload_facts(10))
    two = audit({"ready_replicas": 3, "alert_firing": False}, workload_facts(10))
    assert one.false_claims == ("ready_replicas",)
    assert 0 < one.penalty < two.penalty


def test_unknown_and_uncheckable_claims_are_penalised_and_named() -> None:
    result = audit({"vibes": "good", "node_ready": True}, workload_facts(10))
    assert result.penalty > 0
    assert "planner claim 'vibes' is not in the vocabulary" in result.reasons
    assert "planner claim node_ready=True cannot be checked" in result.reasons


def test_healthy_revision_must_predate_the_incident() -> None:
    facts = replace(workload_facts(4), revisions=revisions(("7", "6")))
    assert audit({"healthy_revision": "7"}, facts).penalty == 0
    assert audit({"healthy_revision": 9}, facts).false_claims == ("healthy_revision",)


def test_a_bool_is_not_accepted_as_a_count() -> None:
    assert audit({"ready_replicas": True}, workload_facts(1)).false_claims == ("ready_replicas",)


def test_audit_raises_but_never_lowers_a_component() -> None:
    base = ComponentScore(0.9, ("bad already",))
    raised = audit({"ready_replicas": 3}, workload_facts(10)).raise_score(base)
    assert raised.score == 0.9
    assert raised.reasons[0] == "bad already"
    with pytest.raises(ValueError, match="penalty"):
        Audit(penalty=-0.1)


def test_claim_vocabulary_is_documented() -> None:
    assert {k.value for k in ClaimKey} >= {"ready_replicas", "desired_replicas", "healthy_revision", "alert_firing"}


def test_stale_facts_raise_state_validity() -> None:
    facts = workload_facts(10)
    checks = judge_proposal(restart(), facts)
    fresh = state_validity(facts, RESTART.profile, restart().params, action=RESTART.name, now=NOW, judgement=checks)
    stale = state_validity(
        facts,
        RESTART.profile,
        restart().params,
        action=RESTART.name,
        now=NOW + timedelta(seconds=120),
        judgement=checks,
    )
    assert stale.score > fresh.score
    assert "facts are 120 s old (limit 60 s)" in stale.reasons


def test_unsettled_generation_raises_state_validity() -> None:
    facts = replace(workload_facts(10), workload=workload(10, generation=5, observed=4))
    checks = judge_proposal(restart(), facts)
    result = state_validity(facts, RESTART.profile, restart().params, action=RESTART.name, judgement=checks)
    assert "controller has not observed generation 5 (last saw 4)" in result.reasons


def test_off_hours_and_recent_change_raise_pressure() -> None:
    night = NOW.replace(hour=2)
    facts = replace(workload_facts(10, at=night), workload=workload(10, last_change_at=night - timedelta(minutes=4)))
    result = operational_pressure(facts, RESTART.profile, restart().params, action=RESTART.name, now=night)
    assert "target changed 4 minutes ago" in result.reasons
    assert "off-hours (02:00 UTC): +0.15" in result.reasons
    day = operational_pressure(
        workload_facts(10), RESTART.profile, restart().params, action=RESTART.name, settings=RiskSettings()
    )
    assert result.score > day.score


def test_concurrent_incidents_raise_pressure() -> None:
    result = operational_pressure(
        workload_facts(10, incidents=4), RESTART.profile, restart().params, action=RESTART.name
    )
    assert "4 open incidents" in result.reasons
    assert result.score > 0
