"""The closed-loop scenario suite: inject a fault, let alerts fire, run the agent with
auto-approval, and let the oracle judge the cluster.

Each scenario gets a fresh simulated cluster (sample estate, a ManualClock) and a fresh agent
(SQLite in a temporary directory). The runner drives simulated time itself: every loop step
advances the cluster by `STEP_SECONDS`, polls the alerts once and approves every pending
request as an allowed CLI approver. Actions run on the agent's own executor threads while the
loop keeps time moving, so times in simulated seconds vary a little between runs.

Run with `python -m bench.suite [--scenario NAME ...] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from agent.app import Agent, alerts_url, build_agent
from agent.logs import configure_logging
from agent.owner_settings import OwnersSettings
from agent.pipeline import Handled
from agent.settings import LoggingSettings, Settings, load_settings
from agent.store import ExecutionState
from approvals import cli_channel
from approvals.model import ApprovalState
from bench.scenarios import Expect, Scenario, by_name, problems
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, start_sim

STEP_SECONDS = 5.0
"""Simulated seconds per loop step."""
FIX_WINDOW_SECONDS = 2 * 3600.0
"""How long (simulated) a scenario that needs a fix may take."""
ABSTAIN_WINDOW_SECONDS = 30 * 60.0
"""How long (simulated) the agent is watched in a scenario where it should not act."""
APPROVERS = ("bench-oncall", "bench-second")
"""Two approvers, so the highest risk band (two different people) can be approved too."""


@dataclass
class ScenarioResult:
    """What happened in one scenario, and the oracle's judgement."""

    name: str
    title: str
    fault_class: str
    expect: str
    category: str = "missed"
    """mitigated | wrong_action | missed | correct_abstention"""
    verdicts: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sim_to_mitigate: float | None = None
    """Simulated seconds from the first alert firing to the verified fix."""
    wall_to_mitigate: float | None = None
    """Wall seconds from the first poll that saw an alert to the verified fix."""
    wall_seconds: float = 0.0
    error: str | None = None


def settings_for(sim: RunningSim, data_dir: Path, owners: OwnersSettings | None = None) -> Settings:
    """Default settings pointed at the simulated cluster, with the bench's CLI approvers."""
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "owners": owners or base.owners,
            "data_dir": data_dir,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "approvals": base.approvals.model_copy(update={"cli_approvers": APPROVERS, "timeout_seconds": 4 * 3600.0}),
        }
    )


class Run:
    """One scenario on its own cluster and agent."""

    def __init__(self, scenario: Scenario, workdir: Path, *, owners: OwnersSettings | None = None) -> None:
        self.scenario = scenario
        self.clock = ManualClock()
        self.sim = start_sim("sample", clock=self.clock, kubeconfig_path=workdir / "kubeconfig")
        self.agent: Agent = build_agent(
            settings_for(self.sim, workdir / "data", owners),
            clock=self.clock.now,
            verify_timeout_seconds=20.0,
            sleep=lambda _: time.sleep(0.01),
        )
        self.result = ScenarioResult(scenario.name, scenario.title, scenario.fault_class, scenario.expect.value)
        self.http = httpx.Client(timeout=10.0)
        self.alerts_url = alerts_url(self.agent.settings, self.agent.kube)
        self.first_alert: datetime | None = None
        self.first_seen_wall: float | None = None

    def tick(self, seconds: float) -> None:
        while seconds > 0:
            step = min(seconds, 60.0)
            self.sim.cluster.tick(step)
            seconds -= step

    def prepare(self) -> None:
        """Settle the estate, give it an hour of history, start the agent, inject the faults."""
        self.sim.cluster.settle(passes=10, seconds=2.0)
        self.tick(3600)
        self.agent.start(schedule=False, poll=False)
        for step in self.scenario.steps:
            self.tick(step.wait_seconds)
            self.sim.cluster.inject(step.fault, **step.params)
        self.tick(self.scenario.age_seconds)

    def loop(self) -> None:
        """Step time, poll, approve, until the fix is verified and the oracle passes (or time is up)."""
        window = ABSTAIN_WINDOW_SECONDS if self.scenario.expect is Expect.ABSTAIN else FIX_WINDOW_SECONDS
        deadline = self.clock.now() + timedelta(seconds=window)
        steps = 0
        while self.clock.now() < deadline:
            self.sim.cluster.tick(STEP_SECONDS)
            steps += 1
            if steps % 2 == 0:
                self.agent.keeper.resync()
            if steps % 120 == 0:
                self.agent.keeper.prune()
            for handled in self.poll():
                if handled.joined is None:
                    self.result.verdicts.append(handled.evaluation.outcome.value)
            self._note_alerts()
            self._approve_pending()
            self.agent.dispatch()  # the daemon's dispatch job: approved requests become executions
            if self.scenario.expect is Expect.FIX and self._done():
                return

    def poll(self) -> list[Handled]:
        """What `Agent.poll_once` does, over one kept-alive HTTP client (it opens a new one per poll)."""
        response = self.http.get(self.alerts_url, params={"active": "true", "silenced": "false", "inhibited": "false"})
        response.raise_for_status()
        return self.agent.pipeline.ingest_poll(response.content)

    def _note_alerts(self) -> None:
        if self.first_alert is not None:
            return
        for incident in self.agent.pipeline.intake.open_incidents():
            started = incident.started_at
            self.first_alert = started if self.first_alert is None else min(self.first_alert, started)
        if self.first_alert is not None:
            self.first_seen_wall = time.perf_counter()

    def _approve_pending(self) -> None:
        for request in self.agent.approvals.repository.list(state=ApprovalState.PENDING):
            for approver in APPROVERS:
                outcome = cli_channel.approve(self.agent.approvals, request.id, as_user=approver, now=self.clock.now())
                if outcome.result == "approved":
                    break

    def clock_now(self) -> datetime:
        return self.clock.now()

    def _busy(self) -> bool:
        if any(not f.done() for f in self.agent.executor.futures):
            return True
        return bool(self.agent.approvals.repository.list(state=ApprovalState.PENDING))

    def _done(self) -> bool:
        succeeded = [e for e in self._executions() if e.state is ExecutionState.SUCCEEDED]
        if not succeeded or self._busy():
            return False
        if self.result.wall_to_mitigate is None and self.first_seen_wall is not None:
            self.result.wall_to_mitigate = time.perf_counter() - self.first_seen_wall
        return not problems(self.sim.cluster, self.scenario)

    def _executions(self) -> list[Any]:
        return self.agent.store.executions.recent(self.clock.now() - timedelta(days=2))

    def judge(self) -> None:
        """Classify the outcome from the executions and the oracle."""
        self.agent.executor.wait(timeout=60)
        executions = self._executions()
        ran = [e for e in executions if not (e.outcome or {}).get("refused")]
        self.result.actions = [f"{e.action} {e.target_kind}/{e.target_name}: {e.state.value}" for e in executions]
        self.result.problems = problems(self.sim.cluster, self.scenario)
        if self.scenario.expect is Expect.ABSTAIN:
            self.result.category = "wrong_action" if ran else "correct_abstention"
            return
        verified = sorted(e.finished_at for e in ran if e.state is ExecutionState.SUCCEEDED and e.finished_at)
        if self.first_alert is None and not ran and not self.result.problems:
            # Nothing ever broke: the fault did not take effect, so the scenario proves nothing.
            self.result.category = "no_effect"
            return
        if not self.result.problems:
            self.result.category = "mitigated"
            if verified and self.first_alert is not None:
                self.result.sim_to_mitigate = (verified[0] - self.first_alert).total_seconds()
        else:
            self.result.category = "wrong_action" if ran else "missed"
            self.result.wall_to_mitigate = None

    def close(self) -> None:
        self.http.close()
        self.agent.stop()
        self.sim.stop()


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Run one scenario on a fresh cluster and agent; never raises (an error is recorded)."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-bench-"))
    started = time.perf_counter()
    run = Run(scenario, workdir)
    try:
        run.prepare()
        run.loop()
        run.judge()
    except Exception as exc:
        run.result.error = repr(exc)
        run.result.category = "error"
    finally:
        run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    run.result.wall_seconds = time.perf_counter() - started
    return run.result


def quiet_logs() -> None:
    """Only errors from the agent's own logging: the suite prints one line per scenario."""
    configure_logging(LoggingSettings(level="error"))


def run_suite(scenarios: tuple[Scenario, ...], *, echo: Any = print) -> list[ScenarioResult]:
    """Run every scenario in order, printing one line each."""
    results = []
    for scenario in scenarios:
        result = run_scenario(scenario)
        echo(
            f"{result.name:<28} {result.category:<19} {', '.join(result.actions) or '-'}"
            f"  ({result.wall_seconds:.1f}s){'  ' + '; '.join(result.problems[:2]) if result.problems else ''}"
            f"{'  ' + result.error if result.error else ''}"
        )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or some scenarios) and optionally write the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    quiet_logs()
    results = run_suite(by_name(args.scenario))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
