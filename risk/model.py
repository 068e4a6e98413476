"""The risk layer's vocabulary: proposals with claims, component scores, verdicts.

These are the types the approvals layer and the agent consume; they hold plain data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from actions.base import ActionName, ActionParams, Precondition, TargetRef
from actions.premise import AlertPremise


class Component(StrEnum):
    """The four parts of every risk score, each in [0, 1] (0 safe, 1 dangerous)."""

    BLAST_RADIUS = "blast_radius"
    REVERSIBILITY = "reversibility"
    STATE_VALIDITY = "state_validity"
    OPERATIONAL_PRESSURE = "operational_pressure"


@dataclass(frozen=True)
class ComponentScore:
    """One component's number in [0, 1] and the short sentences that produced it."""

    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskScore:
    """A total and its decomposition; what the approver sees and the store keeps."""

    total: float
    components: Mapping[Component, ComponentScore]

    def as_json(self) -> dict[str, Any]:
        """The `risk` object of the CLI's `--json` contract."""
        return {
            "score": round(self.total, 4),
            "components": {
                c.value: {"score": round(s.score, 4), "reasons": list(s.reasons)} for c, s in self.components.items()
            },
        }


@dataclass(frozen=True)
class Proposal:
    """One registry action with validated params, aimed at one target, for one incident.

    `claims` are what the planner believes about the world (e.g. ``{"ready_replicas": 3}``);
    the auditor checks them against probed facts and they can only raise the risk.
    """

    action: ActionName
    params: ActionParams
    target: TargetRef
    incident_started_at: datetime
    claims: Mapping[str, Any] = field(default_factory=dict)
    alert_names: tuple[str, ...] = ()
    alert_fingerprints: tuple[str, ...] = ()
    """Alertmanager fingerprints of the incident's alerts; the probes ask whether they still fire."""
    requested_by: str | None = None
    """Who asked for this proposal when a person did (an undo); they may not approve it."""
    premises: tuple[AlertPremise, ...] = ()
    """What the incident's alerts claim about the cluster; the probes check each against it."""


class Verdict(StrEnum):
    """What the policy decided: act now, ask a human, or refuse."""

    EXECUTE = "execute"
    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one scored proposal, with every rule that produced it."""

    verdict: Verdict
    risk: RiskScore
    rules: tuple[str, ...]
    shadow: bool = False
    """Shadow mode: the verdict is recorded but nothing is executed."""
    preconditions: tuple[Precondition, ...] = ()
    """The action's preconditions as judged on the facts this decision was made on."""

    @property
    def failed_preconditions(self) -> tuple[Precondition, ...]:
        """The preconditions that did not hold (each one a veto)."""
        return tuple(c for c in self.preconditions if not c.holds)
