"""Outcome labels: the rules that turn what the store holds into how a decision ended."""

from __future__ import annotations

import pytest

from risk.auditor import audit
from risk.model import Component, ComponentScore, RiskScore
from risk.policy import decide
from risk.settings import PolicySettings
from risk.track import Call, Ending, HumanCall, RunEnd, auditor_findings, ending_of, parse_execute_max
from tests.risk.builders import NOW, restart, workload_facts

WINDOW = 900.0


def _end(**kw: object) -> Ending:
    facts: dict[str, object] = {
        "verdict": "execute",
        "shadow": False,
        "human": None,
        "run": None,
        "undone": False,
        "overridden": False,
        "resolved_after_seconds": None,
        "self_resolve_seconds": WINDOW,
    }
    facts.update(kw)
    return ending_of(**facts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "undone", "overridden", "ending"),
    [
        (RunEnd.SUCCEEDED, False, False, Ending.VERIFIED),
        (RunEnd.SUCCEEDED, True, True, Ending.UNDONE),
        (RunEnd.SUCCEEDED, False, True, Ending.OVERRIDDEN),
        (RunEnd.FAILED, False, False, Ending.FAILED),
        (RunEnd.UNFINISHED, False, False, Ending.OPEN),
        (RunEnd.REFUSED, False, False, Ending.NOT_RUN),
    ],
)
def test_a_run_decides_the_ending(run: RunEnd, undone: bool, overridden: bool, ending: Ending) -> None:
    assert _end(run=run, undone=undone, overridden=overridden, resolved_after_seconds=None) is ending


@pytest.mark.parametrize(
    ("verdict", "human", "ending"),
    [
        ("approve", HumanCall(Call.REJECTED, by=("ana",), seconds=30), Ending.REJECTED),
        ("approve", HumanCall(Call.EXPIRED, seconds=3600), Ending.EXPIRED),
        ("approve", HumanCall(Call.PENDING), Ending.OPEN),
        ("deny", None, Ending.DENIED),
        ("escalate", None, Ending.ESCALATED),
        ("execute", None, Ending.OPEN),
    ],
)
def test_without_a_run_the_reason_nothing_ran_is_the_ending(
    verdict: str, human: HumanCall | None, ending: Ending
) -> None:
    assert _end(verdict=verdict, human=human, resolved_after_seconds=WINDOW + 1) is ending


def test_an_alert_gone_within_the_window_with_nothing_run_resolved_by_itself() -> None:
    assert _end(verdict="escalate", resolved_after_seconds=WINDOW) is Ending.SELF_RESOLVED
    assert _end(verdict="approve", human=HumanCall(Call.REJECTED), resolved_after_seconds=60.0) is Ending.SELF_RESOLVED
    assert _end(verdict="deny", shadow=True, resolved_after_seconds=None) is Ending.SHADOW


def test_a_pending_request_stays_open_even_if_the_alert_went_away() -> None:
    assert _end(verdict="approve", human=HumanCall(Call.PENDING), resolved_after_seconds=10.0) is Ending.OPEN


def test_the_threshold_is_read_back_from_the_policys_own_rule_text() -> None:
    score = RiskScore(total=0.5, components={c: ComponentScore(0.5) for c in Component})
    settings = PolicySettings(execute_max=0.35)
    decision = decide(restart(), workload_facts(10), score, settings, now=NOW)
    assert parse_execute_max(decision.rules) == 0.35
    assert parse_execute_max(["veto: namespace kube-system is protected"]) is None


def test_auditor_findings_are_counted_from_state_validity_reasons() -> None:
    found = audit({"ready_replicas": 99, "target_exists": True, "made_up": 1}, workload_facts(3))
    assert auditor_findings(list(found.reasons)) == 2  # the false count and the unknown key
    assert auditor_findings(["target settled", "alert still firing"]) == 0
