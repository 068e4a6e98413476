"""One end-to-end world: a simulated cluster on a manual clock, the real Alertmanager fed by a
pusher, and agents built by `build_agent` that poll it. The test drives time: `step()` ticks
the cluster and pushes its alerts; `poll_until()` polls the agent until a decision arrives.

The executor's verification pauses tick the cluster instead of sleeping, so an action takes
effect in simulated time while the test waits only for the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.app import Agent, build_agent
from agent.evaluate import Outcome
from agent.pipeline import Handled
from agent.settings import Settings, load_settings
from agent.store import Execution
from risk.settings import PolicySettings
from simcluster.harness import RunningSim
from tests.e2e.alertmanager import RUN_LABEL, Alertmanager, AlertPusher

APPROVER = "e2e-oncall"
VERIFY_TICK_SECONDS = 10.0
"""Simulated seconds that pass during each of the executor's verification pauses."""
HISTORY_SECONDS = 3600.0
"""The estate's age before any fault: the runbook's 'before the incident' reach-back lands after it."""


@dataclass
class World:
    """A simulated cluster, its alerts in Alertmanager, and the agents acting on it."""

    sim: RunningSim
    alertmanager: Alertmanager
    pusher: AlertPusher
    workdir: Path
    agents: list[Agent] = field(default_factory=list)
    electing: list[Agent] = field(default_factory=list)
    """Agents whose election loop `step()` runs (in place of their background thread)."""

    def settings(
        self,
        *,
        policy: dict[str, Any] | None = None,
        approvals: dict[str, Any] | None = None,
        identity: str = "agent-a",
        leader_election: dict[str, Any] | None = None,
        database_url: str | None = None,
    ) -> Settings:
        """Settings for an agent on this world: its own alerts only, the CLI approver, overrides."""
        base = load_settings(None, env={})
        return base.model_copy(
            update={
                "data_dir": self.workdir / "data",
                "kube": base.kube.model_copy(update={"url": self.sim.url}),
                "alertmanager": base.alertmanager.model_copy(
                    update={"url": self.alertmanager.url, "label_filters": {RUN_LABEL: self.pusher.run}}
                ),
                "database": base.database.model_copy(update={"url": database_url}),
                "agent": base.agent.model_copy(update={"identity": identity}),
                "leader_election": base.leader_election.model_copy(update=leader_election or {}),
                "approvals": base.approvals.model_copy(update={"cli_approvers": (APPROVER,), **(approvals or {})}),
                "policy": PolicySettings.model_validate({**base.policy.model_dump(), **(policy or {})}),
            }
        )

    def agent(
        self,
        settings: Settings,
        *,
        start: bool = True,
        escalations: list[str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Agent:
        """Build (and start, without the scheduler) an agent; it is stopped at teardown."""
        sink = escalations if escalations is not None else []
        agent = build_agent(
            settings,
            clock=self.sim.cluster.clock.now,
            use_cache=False,
            sleep=sleep or self.verification_pause,
            verify_timeout_seconds=20.0,
            escalate=lambda incident, reason: sink.append(f"{incident.id}: {reason}"),
        )
        self.agents.append(agent)
        if start:
            agent.start(schedule=False)
        return agent

    def verification_pause(self, seconds: float) -> None:
        """The executor's pause between verification checks: simulated time passes instead."""
        self.sim.cluster.tick(VERIFY_TICK_SECONDS)

    def settle(self) -> None:
        """Bring the estate to a steady state and give it an hour of history."""
        self.sim.cluster.settle(passes=10, seconds=2.0)
        self.sim.cluster.tick(HISTORY_SECONDS)
        self.sim.cluster.settle(passes=5, seconds=2.0)

    def step(self, seconds: float = 15.0) -> None:
        """Advance the cluster, push what fires to Alertmanager, run each electing agent's round."""
        self.sim.cluster.tick(seconds)
        self.pusher.push()
        for agent in self.electing:
            assert agent.leader is not None
            agent.leader.try_acquire_or_renew()

    def poll_until(
        self, agent: Agent, wanted: Callable[[Handled], bool], *, max_seconds: float = 900.0, step: float = 15.0
    ) -> Handled:
        """Step simulated time and poll until a decision `wanted` arrives (AssertionError if none)."""
        seen: list[str] = []
        elapsed = 0.0
        while elapsed <= max_seconds:
            self.step(step)
            elapsed += step
            for handled in agent.poll_once():
                evaluation = handled.evaluation
                seen.append(f"{evaluation.outcome.value} {evaluation.incident.target} {evaluation.reasons}")
                if wanted(handled):
                    return handled
        raise AssertionError(f"no wanted decision within {max_seconds}s of simulated time; saw {seen}")

    def stop(self) -> None:
        """Stop every agent that is still running."""
        while self.agents:
            self.agents.pop().stop()

    def retire(self, agent: Agent) -> None:
        """Forget an agent the test stopped (or let "crash") itself, so teardown leaves it alone.
        Its connection to the alert source is closed, as the OS does for a process that died."""
        self.agents.remove(agent)
        agent.http.close()


def about(name: str, *, namespace: str | None = None) -> Callable[[Handled], bool]:
    """A new decision (not a join, not an ignore) whose target is `name` (or a pod of it)."""

    def wanted(handled: Handled) -> bool:
        evaluation = handled.evaluation
        target = evaluation.incident.target
        if handled.joined is not None or evaluation.outcome is Outcome.IGNORE or target is None:
            return False
        if namespace is not None and target.namespace != namespace:
            return False
        return target.name == name or target.name.startswith(f"{name}-")

    return wanted


def executions(agent: Agent, *, target: str | None = None) -> list[Execution]:
    """Every execution in the agent's store (optionally on one target name)."""
    since = agent.clock().replace(year=2000)
    found = agent.store.executions.recent(since)
    return [e for e in found if target is None or e.target_name == target]
