"""Choosing the planner from settings: runbook, llm, or llm with the runbook as fallback.

The fallback runs the runbook only when the LLM planner escalated for a technical reason
(timeout, endpoint error, output that is not one valid call on the incident's target). When
the model itself chose to escalate, that judgement stands: a person is asked. Both traces are
kept, so the audit chain shows what the model answered and what the runbook then decided.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.intake import Incident
from agent.planning.base import Escalation, Planner, PlanResult
from agent.planning.changes import ChangeHistory
from agent.planning.llm import FactsProvider, LlmClient, LlmPlanner
from agent.planning.llm_output import TECHNICAL_OUTCOMES, Outcome
from agent.planning.runbook import RunbookPlanner, load_runbook
from agent.planning.targets import ClusterReader
from agent.settings import PlannerKind, PlannerSettings

__all__ = ["RunbookFallbackPlanner", "build_planner"]


def fell_back(result: PlanResult) -> bool:
    """Whether an LLM result is a technical failure the runbook should answer instead."""
    if not isinstance(result.decision, Escalation):
        return False
    try:
        return Outcome(str(result.trace.get("outcome"))) in TECHNICAL_OUTCOMES
    except ValueError:
        return False


class RunbookFallbackPlanner:
    """The LLM planner first; the runbook when the LLM failed technically."""

    name = "llm-with-runbook-fallback"

    def __init__(self, llm: Planner, runbook: Planner) -> None:
        self._llm = llm
        self._runbook = runbook

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        """The LLM's decision, or the runbook's when the LLM failed technically; both traces kept."""
        first = self._llm.plan(incident, now=now)
        trace: dict[str, Any] = {"planner": self.name, "llm": dict(first.trace)}
        if not fell_back(first):
            trace["decided_by"] = self._llm.name
            return PlanResult(first.decision, trace)
        second = self._runbook.plan(incident, now=now)
        trace.update(decided_by=self._runbook.name, fallback_reason=first.escalation, runbook=dict(second.trace))
        return PlanResult(second.decision, trace)


def build_planner(
    settings: PlannerSettings,
    *,
    reader: ClusterReader,
    facts_provider: FactsProvider | None = None,
    client: LlmClient | None = None,
    history: ChangeHistory | None = None,
) -> Planner:
    """The planner the settings ask for; the LLM planner gets the runbook's hints either way.
    `history` (the snapshot keeper's records) lets guards see changes the cluster forgot."""
    runbook = RunbookPlanner(reader, load_runbook(settings.runbook_path), history=history)
    if settings.kind is PlannerKind.RUNBOOK:
        return runbook
    llm = LlmPlanner(
        settings.llm,
        reader=reader,
        facts_provider=facts_provider,
        hints=runbook.hints,
        client=client,
        strict_tools=settings.llm.strict_tools,
    )
    if settings.kind is PlannerKind.LLM:
        return llm
    return RunbookFallbackPlanner(llm, runbook)
