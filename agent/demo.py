"""`scutum demo`: the whole loop on a simulated cluster, in about a minute.

It starts simcluster with its sample estate (time running fast), the agent on SQLite and the
CLI approval channel, then plays scripted incidents one at a time and prints each one's
timeline: alert → proposal → risk → verdict → approval → action → verified.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount

from agent.app import Agent, ConsoleFactory, build_agent
from agent.evaluate import Outcome, target_text
from agent.http import HttpServer
from agent.pipeline import Handled
from agent.planning.targets import ObjectRef
from agent.reports.build import write_reports
from agent.settings import Settings, load_settings
from agent.store import Execution
from approvals import cli_channel
from approvals.model import ApprovalState
from simcluster.clock import SystemClock
from simcluster.harness import RunningSim, start_sim

SPEED = 120.0
"""Simulated seconds per wall second: a 15-minute alert pending period passes in 7.5 s."""
DEMO_APPROVER = "demo-oncall"


@dataclass(frozen=True)
class Scenario:
    title: str
    fault: str
    expect: frozenset[Outcome]
    """Verdicts that count as handled; execute/approve also need a verified action."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "Bad rollout: a Deployment gets an image that cannot be pulled",
        "bad_image_rollout",
        frozenset({Outcome.EXECUTE, Outcome.APPROVE}),
    ),
    Scenario(
        "Broken ConfigMap: a value the pods read makes them crash",
        "bad_configmap_value",
        frozenset({Outcome.EXECUTE, Outcome.APPROVE}),
    ),
    Scenario(
        "OOM: a memory limit below what the container needs",
        "memory_limit_too_low",
        frozenset({Outcome.EXECUTE, Outcome.APPROVE}),
    ),
    Scenario("A node stops reporting Ready", "node_not_ready", frozenset({Outcome.EXECUTE, Outcome.APPROVE})),
    Scenario(
        "A runaway CronJob starts a Job every minute", "cronjob_runaway", frozenset({Outcome.EXECUTE, Outcome.APPROVE})
    ),
    Scenario("Bad rollout in a protected namespace (kube-system)", "bad_image_rollout", frozenset({Outcome.DENY})),
    Scenario(
        "A pod stuck terminating: no action in the registry fits",
        "pod_stuck_terminating",
        frozenset({Outcome.ESCALATE}),
    ),
)
PARAMS: dict[int, dict[str, str]] = {5: {"namespace": "kube-system", "deployment": "coredns"}}


@dataclass
class Result:
    scenario: Scenario
    verdict: str = "-"
    action: str = "-"
    outcome: str = "not handled"
    handled: bool = False
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


Ask = Callable[[str], bool]


def run_demo(
    *,
    data_dir: Path | None,
    yes: bool,
    echo: Callable[[str], None] = print,
    ask: Ask | None = None,
    console: ConsoleFactory | None = None,
    console_port: int = 8080,
    hold: bool = False,
) -> int:
    """Play every scenario; 0 when all were handled. With `console`, the web console (read-only:
    no authenticating proxy) is served on 127.0.0.1:`console_port` while the demo runs, and with
    `hold` afterwards too, until Ctrl-C."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-demo-"))
    data = data_dir or workdir / "data"
    clock = SystemClock(speed=SPEED)
    sim = start_sim("sample", clock=clock, auto_tick=0.05, kubeconfig_path=workdir / "kubeconfig")
    agent = build_agent(_settings(sim, data), clock=clock.now, verify_timeout_seconds=30.0)
    web = None
    if console is not None:
        web = HttpServer(Starlette(routes=[Mount("/console", app=console(agent))]), host="127.0.0.1", port=console_port)
        web.start()
        echo(f"scutum demo: web console at http://127.0.0.1:{console_port}/console/")
    try:
        _settle(sim)
        clock.jump(3600)  # give the estate an hour of history before anything breaks
        agent.start(poll=False)  # the demo polls itself, to print each incident as it goes
        echo(f"scutum demo: simulated cluster at {sim.url} ({SPEED:.0f}x time), store {agent.store.url}\n")
        results = [
            _play(agent, sim, index, scenario, yes=yes, echo=echo, ask=ask or _terminal_ask)
            for index, scenario in enumerate(SCENARIOS)
        ]
        _summary(results, echo)
        lines, pages = write_reports(agent.store, workdir, now=agent.clock())
        echo("\nWhat this run says about Scutum (scutum report calibration | coverage):")
        for line in [*lines, *(f"  report: {page}" for page in pages)]:
            echo(line)
        report = agent.audit.verify()
        echo(f"\n{report.describe()}  (check it yourself: scutum audit verify --data-dir {data})")
        if web is not None and hold:
            echo(f"\nthe web console stays up at http://127.0.0.1:{console_port}/console/ until Ctrl-C")
            _until_interrupted()
        return 0 if all(r.handled for r in results) and report.ok else 1
    finally:
        if web is not None:
            web.stop()
        agent.stop()
        sim.stop()


def _until_interrupted() -> None:
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return


def _settle(sim: RunningSim, *, timeout: float = 15.0) -> None:
    """Wait (wall time) until every Deployment of the estate is available."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployments, _ = sim.cluster.store.list("Deployment")
        if all(
            (d.get("status") or {}).get("availableReplicas", 0) >= (d.get("spec") or {}).get("replicas", 1)
            for d in deployments
        ):
            return
        time.sleep(0.1)


def _settings(sim: RunningSim, data_dir: Path) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "approvals": base.approvals.model_copy(
                update={"cli_approvers": (DEMO_APPROVER,), "timeout_seconds": 4 * 3600.0}
            ),
        }
    )


def _terminal_ask(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _play(
    agent: Agent, sim: RunningSim, index: int, scenario: Scenario, *, yes: bool, echo: Callable[[str], None], ask: Ask
) -> Result:
    result = Result(scenario)
    echo(f"━━ {index + 1}/{len(SCENARIOS)}  {scenario.title}")
    started = time.monotonic()
    injected = sim.cluster.inject(scenario.fault, **PARAMS.get(index, {}))
    echo(f"  fault      {scenario.fault} → {injected.get('changed')}")
    first = _wait_for_decision(agent, injected.get("params") or {}, deadline=started + 40)
    if first is None:
        echo("  no decision within 40 s")
        return result
    _print_decision(first, result, echo)
    execution = _follow(agent, first, result, yes=yes, echo=echo, ask=ask)
    if first.evaluation.outcome in (Outcome.EXECUTE, Outcome.APPROVE):
        result.handled = execution is not None and execution.state.value == "succeeded"
        if result.handled:
            _wait_resolved(agent, first, deadline=time.monotonic() + 30)
    else:
        result.handled = first.evaluation.outcome in scenario.expect
        result.outcome = first.evaluation.outcome.value
    result.seconds = time.monotonic() - started
    echo(f"  handled    {'yes' if result.handled else 'NO'} in {result.seconds:.1f} s\n")
    return result


def _wait_for_decision(agent: Agent, fault: dict[str, str], *, deadline: float) -> Handled | None:
    """The first decision about the fault's object (other incidents go on being handled)."""
    while time.monotonic() < deadline:
        for handled in agent.poll_once():
            evaluation = handled.evaluation
            if evaluation.outcome is Outcome.IGNORE or handled.joined is not None:
                continue
            if _concerns(evaluation.incident.target, fault):
                return handled
        time.sleep(0.2)
    return None


def _concerns(target: ObjectRef | None, fault: dict[str, str]) -> bool:
    if target is None:
        return False
    if "node" in fault:
        return target.kind == "Node" and target.name == fault["node"]
    if "pod" in fault:
        return target.name == fault["pod"]
    if target.namespace != fault.get("namespace"):
        return False
    workload = fault.get("deployment") or fault.get("cronjob")
    return workload is None or target.name.startswith(workload)


def _print_decision(handled: Handled, result: Result, echo: Callable[[str], None]) -> None:
    evaluation = handled.evaluation
    incident = evaluation.incident
    target = incident.target
    echo(
        f"  alert      {', '.join(incident.alert_names)} on {target.kind if target else '?'} "
        f"{target.namespace + '/' if target and target.namespace else ''}{target.name if target else ''}"
    )
    result.verdict = evaluation.outcome.value
    if evaluation.proposal is not None:
        proposal = evaluation.proposal
        params = proposal.params.model_dump(mode="json", exclude_none=True)
        result.action = proposal.action.value
        echo(f"  proposal   {proposal.action.value} {target_text(proposal.target)} {params}")
    if evaluation.risk is not None:
        echo(f"  risk       {evaluation.risk.total:.2f}")
        for component, part in evaluation.risk.components.items():
            reason = "; ".join(part.reasons[:2]) or "-"
            echo(f"     {component.value:<21} {part.score:.2f}  {reason}")
    echo(f"  verdict    {evaluation.outcome.value}: {'; '.join(evaluation.reasons)}")


def _follow(
    agent: Agent, handled: Handled, result: Result, *, yes: bool, echo: Callable[[str], None], ask: Ask
) -> Execution | None:
    """Approve (or not), wait for the action and its verification; approve again when the
    executor's re-validation asks again because the risk rose."""
    incident_id = handled.evaluation.incident.id
    approval_id = handled.approval_id
    for _ in range(3):
        if approval_id is not None and not _vote(agent, approval_id, result, yes=yes, echo=echo, ask=ask):
            return None
        if handled.execution_id is None and approval_id is None:
            return None
        agent.dispatch()  # the leader's job: it runs what was approved
        agent.executor.wait(timeout=180)
        execution = _execution_for(agent, incident_id)
        if execution is None:
            echo("  action     none ran")
            return None
        outcome = execution.outcome or {}
        detail = outcome.get("detail") or outcome.get("refused") or outcome.get("error")
        echo(f"  action     {execution.state.value}: {detail}")
        result.outcome = execution.state.value
        approval_id = _asked_again(agent, incident_id)
        if approval_id is None:
            echo(f"  verified   {(execution.verification or {}).get('detail', '-')}")
            return execution
        echo("  re-asked   the risk rose between approval and action, so on-call is asked again")
    return None


def _vote(agent: Agent, approval_id: str, result: Result, *, yes: bool, echo: Callable[[str], None], ask: Ask) -> bool:
    if yes or ask(f"  approve {result.action} (request {approval_id[:8]})?"):
        vote = cli_channel.approve(agent.approvals, approval_id, as_user=DEMO_APPROVER, now=agent.clock())
        echo(f"  approval   {vote.message} (as {DEMO_APPROVER})")
        return True
    vote = cli_channel.reject(agent.approvals, approval_id, as_user=DEMO_APPROVER, now=agent.clock())
    echo(f"  approval   {vote.message}")
    result.outcome = "rejected"
    return False


def _asked_again(agent: Agent, incident_id: str) -> str | None:
    pending = agent.approvals.repository.list(state=ApprovalState.PENDING)
    return next((r.id for r in pending if r.incident_id == incident_id), None)


def _execution_for(agent: Agent, incident_id: str) -> Execution | None:
    since = handled_since(agent)
    matches = [e for e in agent.store.executions.recent(since) if e.incident_id == incident_id]
    return max(matches, key=lambda e: (e.finished_at or e.created_at, e.created_at), default=None)


def handled_since(agent: Agent) -> datetime:
    """Far enough back to cover one scenario's executions (in simulated time)."""
    return agent.clock() - timedelta(hours=12)


def _wait_resolved(agent: Agent, handled: Handled, *, deadline: float) -> None:
    """Keep polling (which records resolutions) until the incident's alerts are gone."""
    incident_id = handled.evaluation.incident.id
    while time.monotonic() < deadline:
        agent.poll_once()
        incident = agent.pipeline.intake.get(incident_id)
        if incident is None or incident.state.value != "open":
            return
        time.sleep(0.2)


def _summary(results: list[Result], echo: Callable[[str], None]) -> None:
    echo("Summary")
    echo(f"  {'#':<2} {'incident':<62} {'verdict':<9} {'action':<18} {'outcome':<12} {'time':>6}  handled")
    for index, r in enumerate(results, 1):
        echo(
            f"  {index:<2} {r.scenario.title[:62]:<62} {r.verdict:<9} {r.action:<18} {r.outcome:<12} "
            f"{r.seconds:5.1f}s  {'yes' if r.handled else 'NO'}"
        )
    echo(f"  {sum(r.handled for r in results)} of {len(results)} incidents handled")
