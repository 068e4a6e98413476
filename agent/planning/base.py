"""The planner interface: an incident in, a proposal, an escalation or an ignore out.

Every answer carries a `trace` of what the planner saw and answered, for the audit chain
(the runbook planner records the rule it matched and the guards it checked; the LLM planner
will record its prompt and response).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agent.intake import Incident
from risk.model import Proposal


@dataclass(frozen=True)
class Escalation:
    """Nothing in the registry fits (or a guard failed): a human is told, nothing changes."""

    reason: str


@dataclass(frozen=True)
class Ignore:
    """Nothing to do: a heartbeat, an informational, resolved or silenced alert."""

    reason: str


Decision = Proposal | Escalation | Ignore
"""What a planner decided for an incident."""


@dataclass(frozen=True)
class PlanResult:
    """A planner's answer and the record of how it got there."""

    decision: Decision
    trace: Mapping[str, Any] = field(default_factory=dict)
    """What the planner saw and answered (inputs, rule, guards, output), JSON-serialisable."""

    @property
    def proposal(self) -> Proposal | None:
        return self.decision if isinstance(self.decision, Proposal) else None

    @property
    def escalation(self) -> str | None:
        return self.decision.reason if isinstance(self.decision, Escalation) else None


class Planner(Protocol):
    """Anything that plans: the runbook planner (the default) or the LLM planner."""

    name: str
    """Recorded in the trace and the audit chain."""

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        """Decide what to do about an incident; never raises for bad alerts or unknown actions."""
        ...
