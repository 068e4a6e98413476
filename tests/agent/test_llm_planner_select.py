"""Planner selection from settings, and the runbook fallback after technical LLM failures only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from agent.intake import Incident
from agent.planning.base import Escalation, Ignore, PlanResult
from agent.planning.llm import LlmPlanner
from agent.planning.runbook import RunbookPlanner
from agent.planning.select import RunbookFallbackPlanner, build_planner
from agent.settings import LlmSettings, PlannerKind, PlannerSettings
from tests.agent import fake_llm
from tests.agent.fake_llm import NOW, FakeLlm, call, estate, incident, status, text

RESTART = {"namespace": "prod", "name": "web", "kind": "Deployment", "restart_token": "inc-1"}


class StubRunbook:
    """A runbook stand-in that always answers the same and counts calls."""

    name = "runbook"

    def __init__(self) -> None:
        self.calls = 0

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        self.calls += 1
        return PlanResult(Ignore("runbook answered"), {"planner": "runbook", "rule": "stub"})


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    with fake_llm.serve() as server:
        yield server


def fallback(llm: FakeLlm) -> tuple[RunbookFallbackPlanner, StubRunbook]:
    runbook = StubRunbook()
    planner = LlmPlanner(LlmSettings(base_url=llm.url, max_retries=0), reader=estate())
    return RunbookFallbackPlanner(planner, runbook), runbook


@pytest.mark.parametrize(
    "answer",
    [status(503), text("restart it"), call("drain_node", {"name": "node-2"})],
    ids=["5xx", "text", "off-target"],
)
def test_technical_llm_failures_fall_back_to_the_runbook_with_both_traces(llm: FakeLlm, answer: fake_llm.Reply) -> None:
    llm.push(answer)
    planner, runbook = fallback(llm)
    result = planner.plan(incident(), now=NOW)
    assert result.decision == Ignore("runbook answered")
    assert runbook.calls == 1
    assert result.trace["decided_by"] == "runbook"
    assert result.trace["llm"]["outcome"] in {"transport_error", "invalid_output"}
    assert result.trace["runbook"] == {"planner": "runbook", "rule": "stub"}
    assert result.trace["fallback_reason"]


def test_the_models_own_escalation_stands(llm: FakeLlm) -> None:
    llm.push(call("escalate", {"reason": "a human should look at the database"}))
    planner, runbook = fallback(llm)
    result = planner.plan(incident(), now=NOW)
    assert isinstance(result.decision, Escalation) and "database" in result.decision.reason
    assert runbook.calls == 0
    assert result.trace["decided_by"] == "llm"


def test_a_valid_llm_proposal_is_used_without_the_runbook(llm: FakeLlm) -> None:
    llm.push(call("restart_workload", RESTART))
    planner, runbook = fallback(llm)
    result = planner.plan(incident(), now=NOW)
    assert result.proposal is not None
    assert runbook.calls == 0


def test_build_planner_follows_the_configured_kind(llm: FakeLlm) -> None:
    reader = estate()
    llm_settings = LlmSettings(base_url=llm.url)
    runbook = build_planner(PlannerSettings(), reader=reader)
    only_llm = build_planner(PlannerSettings(kind=PlannerKind.LLM, llm=llm_settings), reader=reader)
    both = build_planner(PlannerSettings(kind=PlannerKind.LLM_WITH_RUNBOOK_FALLBACK, llm=llm_settings), reader=reader)
    assert isinstance(runbook, RunbookPlanner)
    assert isinstance(only_llm, LlmPlanner)
    assert isinstance(both, RunbookFallbackPlanner) and both.name == "llm-with-runbook-fallback"


def test_built_fallback_uses_the_real_runbook_when_the_endpoint_fails(llm: FakeLlm) -> None:
    llm.push(status(500))
    reader = estate()
    settings = PlannerSettings(
        kind=PlannerKind.LLM_WITH_RUNBOOK_FALLBACK, llm=LlmSettings(base_url=llm.url, max_retries=0)
    )
    result = build_planner(settings, reader=reader).plan(incident(), now=NOW)
    alone = RunbookPlanner(reader).plan(incident(), now=NOW)
    assert result.decision == alone.decision
    assert result.trace["runbook"]["planner"] == "runbook"
    assert result.trace["llm"]["attempts"][0]["status"] == 500
