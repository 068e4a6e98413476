"""Earned autonomy: a streak of verified approved runs earns a promotion, a failure a demotion."""

from __future__ import annotations

from datetime import timedelta

from risk.autonomy import PROMOTE_STREAK, Advice, autonomy, case_record
from risk.simulated_history import START, World, generate
from risk.track import Call, Ending, HumanCall, PastDecision


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
