"""Policy: thresholds per namespace and action, freeze windows, budgets, cooldown, rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import ValidationError

from actions.base import ActionName
from risk.facts import Facts
from risk.model import Component, ComponentScore, RiskScore, Verdict
from risk.policy import decide, thresholds_for
from risk.settings import FreezeWindow, PolicySettings, Thresholds
from tests.risk.builders import NOW, restart, workload_facts


def _risk(total: float) -> RiskScore:
    return RiskScore(total=total, components={c: ComponentScore(total) for c in Component})


def _with_target_actions(facts: Facts, *minutes_ago: int) -> Facts:
    times = tuple(NOW - timedelta(minutes=m) for m in minutes_ago)
    return replace(facts, activity=replace(facts.activity, on_target=times, in_namespace=times, overall=times))


@pytest.mark.parametrize(
    ("total", "verdict"),
    [
        (0.0, Verdict.EXECUTE),
        (0.3, Verdict.EXECUTE),
        (0.31, Verdict.APPROVE),
        (0.8, Verdict.APPROVE),
        (0.81, Verdict.DENY),
    ],
)
def test_default_bands_execute_at_or_below_and_deny_above(total: float, verdict: Verdict) -> None:
    assert decide(restart(), workload_facts(10), _risk(total), PolicySettings(), now=NOW).verdict is verdict


def test_namespace_threshold_overrides_default_and_is_named_in_the_rule() -> None:
    policy = PolicySettings(namespaces={"shop": Thresholds(execute_max=0.1)})
    decision = decide(restart(), workload_facts(10), _risk(0.2), policy, now=NOW)
    assert decision.verdict is Verdict.APPROVE
    assert decision.rules == ("score 0.20 > execute_max 0.10 (namespace shop thresholds): approval required",)


def test_stricter_of_namespace_and_action_overrides_wins() -> None:
    policy = PolicySettings(
        namespaces={"shop": Thresholds(execute_max=0.5, deny_min=0.9)},
        actions={ActionName.RESTART_WORKLOAD: Thresholds(execute_max=0.2)},
    )
    assert thresholds_for(restart(), policy) == (0.2, 0.9, "namespace shop and action restart_workload")


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        PolicySettings(execute_max=0.9, deny_min=0.5)


def test_freeze_window_denies_inside_and_not_outside() -> None:
    window = FreezeWindow(name="black-friday", start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1))
    policy = PolicySettings(freeze_windows=(window,))
    inside = decide(restart(), workload_facts(10), _risk(0.1), policy, now=NOW)
    after = decide(restart(), workload_facts(10), _risk(0.1), policy, now=NOW + timedelta(hours=2))
    assert inside.verdict is Verdict.DENY
    assert "veto: freeze window black-friday is active" in inside.rules
    assert after.verdict is Verdict.EXECUTE


def test_recurring_freeze_window_can_leave_approval_to_a_human() -> None:
    window = FreezeWindow(name="release", weekdays=(NOW.weekday(),), hours=(9, 11), allow_approval=True)
    decision = decide(restart(), workload_facts(10), _risk(0.1), PolicySettings(freeze_windows=(window,)), now=NOW)
    assert decision.verdict is Verdict.APPROVE


def test_freeze_window_hours_wrap_past_midnight() -> None:
    night = FreezeWindow(hours=(22, 6))
    assert night.active(NOW.replace(hour=23), "shop")
    assert night.active(NOW.replace(hour=3), "shop")
    assert not night.active(NOW.replace(hour=12), "shop")


def test_freeze_window_limited_to_namespaces() -> None:
    window = FreezeWindow(namespaces=("payments",))
    assert not window.active(NOW, "shop")
    assert window.active(NOW, "payments")


def test_target_budget_denies_once_spent() -> None:
    policy = PolicySettings(cooldown_seconds=0)
    facts = _with_target_actions(workload_facts(10), 20, 40)
    decision = decide(restart(), facts, _risk(0.1), policy, now=NOW)
    assert decision.verdict is Verdict.DENY
    assert "veto: budget for this target spent (2 of 2 actions in the last hour)" in decision.rules


def test_actions_older_than_an_hour_do_not_count_against_budgets() -> None:
    policy = PolicySettings(cooldown_seconds=0)
    facts = _with_target_actions(workload_facts(10), 61, 90)
    assert decide(restart(), facts, _risk(0.1), policy, now=NOW).verdict is Verdict.EXECUTE


def test_cooldown_denies_a_repeat_within_the_window() -> None:
    facts = _with_target_actions(workload_facts(10), 5)
    decision = decide(restart(), facts, _risk(0.1), PolicySettings(), now=NOW)
    assert decision.verdict is Verdict.DENY
    assert "veto: acted on this target 5 min ago (cooldown 15 min)" in decision.rules


def test_cooldown_is_waived_for_a_persons_request_but_needs_approval() -> None:
    facts = _with_target_actions(workload_facts(10), 5)
    decision = decide(restart(requested_by="U123"), facts, _risk(0.1), PolicySettings(), now=NOW)
    assert decision.verdict is Verdict.APPROVE
    assert any(r.startswith("cooldown waived") for r in decision.rules)


def test_kill_switch_read_from_facts_denies_without_restart() -> None:
    facts = workload_facts(10, kill_switch=True)
    decision = decide(restart(), facts, _risk(0.0), PolicySettings(), now=NOW)
    assert decision.verdict is Verdict.DENY
    assert "veto: the kill switch is engaged (scutum pause)" in decision.rules


def test_namespaces_outside_the_managed_ones_are_vetoed() -> None:
    policy = PolicySettings(managed_namespaces=("payments",))
    denied = decide(restart(namespace="shop"), workload_facts(10), _risk(0.0), policy, now=NOW)
    assert denied.verdict is Verdict.DENY
    assert "veto: namespace shop is not one the agent manages" in denied.rules
    allowed = decide(restart(namespace="payments"), workload_facts(10), _risk(0.0), policy, now=NOW)
    assert allowed.verdict is Verdict.EXECUTE


def test_an_empty_managed_list_means_every_unprotected_namespace() -> None:
    decision = decide(restart(namespace="shop"), workload_facts(10), _risk(0.0), PolicySettings(), now=NOW)
    assert decision.verdict is Verdict.EXECUTE
