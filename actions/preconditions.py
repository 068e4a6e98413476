"""The one definition of "this action can run now": `judge`.

Risk derives state validity from it (a failed precondition is a veto), `scutum plan` and the
daemon decide through it, and the executor calls it again on fresh facts right before writing.
It is pure: the probes read the facts once, the action's preconditions judge them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.base import Action, ActionLimits, ActionParams, Precondition
from actions.facts import Facts
from actions.owner_policy import owner_preconditions
from actions.premise import premise_preconditions


@dataclass(frozen=True)
class Judgement:
    """Every precondition of one proposal, as judged on one set of facts."""

    checks: tuple[Precondition, ...]

    @property
    def failed(self) -> tuple[Precondition, ...]:
        """The preconditions that do not hold."""
        return tuple(c for c in self.checks if not c.holds)

    @property
    def holds(self) -> bool:
        """True when every precondition holds: the action can run now."""
        return not self.failed

    def reasons(self) -> tuple[str, ...]:
        """One sentence per failed precondition, its name first."""
        return tuple(f"precondition {c.name} failed: {c.detail}" for c in self.failed)


def target_exists(facts: Facts) -> Precondition:
    """The target exists (as the probes read it)."""
    target = facts.target
    detail = f"the target {target.kind} " + ("exists" if target.exists else "does not exist")
    return Precondition("target_exists", target.exists, detail)


def judge(action: Action[Any], facts: Facts, params: ActionParams, limits: ActionLimits) -> Judgement:
    """The action's preconditions on these facts, with the checks every action shares: the target
    exists (unless the action re-creates it) and no alert of the incident is contradicted."""
    checks: list[Precondition] = []
    if not action.may_create_target:
        checks.append(target_exists(facts))
    checks.extend(premise_preconditions(facts.premises))
    if facts.target.exists or action.may_create_target:
        checks.extend(action.preconditions(facts, params, limits))
        checks.extend(owner_preconditions(action, facts, params, limits))
    return Judgement(tuple(checks))
