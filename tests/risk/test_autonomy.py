"""Earned autonomy: a streak of verified approved runs earns a promotion, a failure a demotion."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from risk.autonomy import PROMOTE_STREAK, Advice, Grant, apply_grant, autonomy, case_record
from risk.model import Component, ComponentScore, Decision, RiskScore, Verdict
from risk.simulated_history import START, World, generate
from risk.track import Call, Ending, HumanCall, PastDecision
from tests.risk.builders import restart


def _decision(
    i: int, *, verdict: str = "approve", ending: Ending = Ending.VERIFIED, call: Call | None = Call.APPROVED
) -> PastDecision:
    human = HumanCall(call, by=("ana",), seconds=60.0) if call is not None and verdict == "approve" else None
    return PastDecision(
        at=START + timedelta(hours=i),
        incident_id=f"inc-{i}",
        alert_name="KubePodCrashLooping",
        namespace="shop",
        action="restart_workload",
        verdict=verdict,
        ending=ending,
        risk=0.4,
        human=human,
    )


def test_a_full_streak_of_approved_verified_runs_earns_a_promotion() -> None:
    record = case_record([_decision(i) for i in range(PROMOTE_STREAK)])
    assert record.advice is Advice.PROMOTE
    assert record.streak == PROMOTE_STREAK
    assert record.evidence == [f"inc-{i}" for i in range(PROMOTE_STREAK)]
    assert record.median_seconds_to_approve == 60.0


def test_a_rejection_or_a_bad_outcome_restarts_the_streak() -> None:
    history = [_decision(i) for i in range(PROMOTE_STREAK)]
    history[3] = _decision(3, ending=Ending.REJECTED, call=Call.REJECTED)
    assert case_record(history).streak == PROMOTE_STREAK - 4
    history[3] = _decision(3, ending=Ending.UNDONE)
    record = case_record(history)
    assert record.advice is Advice.HOLD and record.bad == 1


def test_the_first_bad_unattended_run_recommends_a_demotion() -> None:
    history = [_decision(i, verdict="execute", call=None) for i in range(5)]
    history.append(_decision(5, verdict="execute", call=None, ending=Ending.FAILED))
    record = case_record(history)
    assert record.advice is Advice.DEMOTE
    assert record.evidence == ["inc-5"]
    assert record.mode == "execute"


def test_on_generated_history_every_case_is_listed_once_and_advice_comes_first() -> None:
    history = generate(World(days=60), seed=5)
    records = autonomy(history)
    keys = [(r.action, r.namespace, r.alert) for r in records]
    assert len(keys) == len(set(keys))
    assert sum(r.decisions for r in records) == sum(1 for d in history if d.action is not None)
    ranks = [0 if r.advice is Advice.DEMOTE else 1 if r.advice is Advice.PROMOTE else 2 for r in records]
    assert ranks == sorted(ranks)
    assert any(r.advice is not Advice.HOLD for r in records)


# --- a promotion in force --------------------------------------------------------------------


class _Grants:
    def __init__(self, grant: Grant | None) -> None:
        self.grant = grant
        self.asked: list[tuple[str, str | None, str]] = []

    def grant_for(self, action: str, namespace: str | None, alert: str) -> Grant | None:
        self.asked.append((action, namespace, alert))
        return self.grant


GRANT = Grant("restart_workload", "shop", "KubePodCrashLooping", "execute", 0.5, "lead", START)


def _approve(total: float, *rules: str, shadow: bool = False) -> Decision:
    risk = RiskScore(total=total, components={c: ComponentScore(total) for c in Component})
    return Decision(
        Verdict.APPROVE, risk, rules or (f"score {total:.2f} > execute_max 0.30: approval required",), shadow
    )


def test_a_promotion_turns_approve_into_execute_and_says_who_granted_it() -> None:
    proposal = replace(restart("web", "shop"), alert_names=("KubePodCrashLooping",))
    grants = _Grants(GRANT)
    decided = apply_grant(proposal, _approve(0.45), grants)
    assert decided.verdict is Verdict.EXECUTE
    assert "earned autonomy" in decided.rules[-1] and "lead" in decided.rules[-1]
    assert grants.asked == [("restart_workload", "shop", "KubePodCrashLooping")]


def test_a_promotion_never_passes_a_veto_its_risk_ceiling_or_shadow_mode() -> None:
    proposal = replace(restart("web", "shop"), alert_names=("KubePodCrashLooping",))
    grants = _Grants(GRANT)
    for decision in (
        _approve(0.51),
        _approve(0.4, "veto: freeze window friday is active", "a human may still approve during the freeze window"),
        _approve(0.4, shadow=True),
        replace(_approve(0.4), verdict=Verdict.DENY),
    ):
        assert apply_grant(proposal, decision, grants) is decision
    assert apply_grant(proposal, _approve(0.4), _Grants(None)).verdict is Verdict.APPROVE
    assert apply_grant(restart("web", "shop"), _approve(0.4), grants).verdict is Verdict.APPROVE  # no alert


def test_shadow_decisions_build_the_record_before_scutum_acts() -> None:
    history = generate(World(days=30, shadow_days=10), seed=9)
    records = autonomy(history)
    shadow = [d for d in history if d.shadow and d.action is not None]
    assert sum(r.shadow for r in records) == len(shadow) > 0
    assert sum(r.shadow_people_acted for r in records) == sum(1 for d in shadow if d.people_acted)
    assert all(d.at < START + timedelta(days=10) for d in shadow)
