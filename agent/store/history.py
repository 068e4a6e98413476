"""The store seen by the risk layer: implements `risk.sources.ActionHistory`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from actions.base import TargetRef
from agent.store.control_state import ControlRepository
from agent.store.executions import ExecutionRepository
from agent.store.incidents import IncidentRepository
from agent.store.records import Execution, ExecutionState

NOT_ACTED = frozenset({ExecutionState.PENDING, ExecutionState.REFUSED})
"""Executions that did nothing to the cluster: not actions for budgets and cooldowns."""
NOT_APPLIED = "not_applied"
"""The effect of a run none of whose writes landed (`agent.intent.Effect.NOT_APPLIED`)."""


def _acted(run: Execution) -> bool:
    """Whether the run did something to the cluster (a failure whose writes did not land did not)."""
    return run.state not in NOT_ACTED and run.effect != NOT_APPLIED


class StoreActionHistory:
    """What the agent did (claimed executions), its open incidents and the kill switch."""

    def __init__(
        self, executions: ExecutionRepository, incidents: IncidentRepository, control: ControlRepository
    ) -> None:
        self._executions = executions
        self._incidents = incidents
        self._control = control

    def action_times(
        self, *, since: datetime, target: TargetRef | None = None, namespace: str | None = None
    ) -> Sequence[datetime]:
        """Claim times of executions since `since`: on `target`, in `namespace`, or all."""
        runs = self._executions.recent(
            since,
            namespace=target.namespace if target else namespace,
            target_kind=target.kind if target else None,
            target_name=target.name if target else None,
        )
        started = [run.claimed_at for run in runs if _acted(run) and run.claimed_at]
        return sorted(started)

    def open_incidents(self) -> int:
        """Incidents currently open or being handled."""
        return len(self._incidents.active())

    def kill_switch_engaged(self) -> bool:
        """True while `scutum pause` is in force."""
        return self._control.get().paused
