"""The kill switch as first-class state: `scutum status` shows it with the leader, pending
approvals, open incidents and the last poll; pausing twice or resuming when running says so; on
resume, incidents held while paused are decided again."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app
from agent.evaluate import Outcome
from agent.store import IncidentStatus, Store
from simcluster.harness import RunningSim
from tests.agent.test_durable_intake import poll
from tests.agent.test_executor import sim_agent

runner = CliRunner()


def scutum(*args: str) -> str:
    result = runner.invoke(app, list(args), env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_pause_twice_and_resume_when_running_say_so_and_change_nothing(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert scutum("resume", "--as", "oncall", "--data-dir", data).strip() == "not paused: nothing to resume"
    assert scutum("pause", "--reason", "bad deploy", "--as", "lead", "--data-dir", data).startswith("paused by lead")

    again = scutum("pause", "--reason", "another reason", "--as", "oncall", "--data-dir", data)

    assert again.startswith("already paused by lead since ") and again.strip().endswith(": bad deploy")
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    try:
        assert (store.control.get().changed_by, store.control.get().reason) == ("lead", "bad deploy")
        assert [r.payload["action"] for r in store.audit.records()] == ["pause"]
    finally:
        store.close()


def test_status_shows_the_switch_leader_approvals_incidents_and_last_poll(tmp_path: Path) -> None:
    data = str(tmp_path)
    scutum("pause", "--reason", "incident review", "--as", "lead", "--data-dir", data)
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    try:
        opened = store.incidents.open("fp-1", alerts=[], started_at=store.control.get().changed_at)  # type: ignore[arg-type]
        store.incidents.open("fp-2", alerts=[], started_at=opened.started_at)
        store.incidents.transition(opened.id, IncidentStatus.HANDLING)
        at = opened.started_at
        store.replicas.report("agent-b", leading=False, at=at)
        store.replicas.report("agent-a", leading=True, at=at, poll_ok=False, poll_detail="alert source: refused")
    finally:
        store.close()

    report = json.loads(scutum("status", "--json", "--data-dir", data))
    text = scutum("status", "--data-dir", data)

    assert (report["paused"], report["paused_by"], report["reason"]) == (True, "lead", "incident review")
    assert report["since"] is not None
    assert (report["leader"], report["pending_approvals"], report["open_incidents"]) == ("agent-a", 0, 2)
    (leader,) = [r for r in report["replicas"] if r["leading"]]
    assert leader["last_poll"] == {"at": leader["reported_at"], "ok": False, "detail": "alert source: refused"}
    assert "PAUSED by lead" in text and "leader             agent-a" in text and "FAILED" in text


def test_incidents_held_while_paused_are_decided_again_on_resume(sim: RunningSim, tmp_path: Path) -> None:
    sim.cluster.settle(passes=10, seconds=2.0)
    sim.cluster.tick(3600)
    sim.cluster.settle(passes=3, seconds=2.0)
    agent = sim_agent(sim, tmp_path / "data")
    try:
        agent.kill_switch.pause(reason="change freeze", by="lead")
        sim.cluster.inject("scale_to_zero", namespace="shop", deployment="catalog")
        for _ in range(60):
            sim.cluster.tick(15)
            if sim.cluster.firing_alerts():
                break
        assert poll(agent, sim) == [("catalog", Outcome.DENY, None)]
        (held,) = agent.store.incidents.in_status(IncidentStatus.HELD)
        assert poll(agent, sim) == []  # still paused: held, not asked again

        agent.kill_switch.resume(by="lead")
        agent.lifecycle.resume_held()  # what the next poll does first

        assert poll(agent, sim) == [("catalog", Outcome.EXECUTE, None)]
        assert agent.store.incidents.get(held.id).status is IncidentStatus.HANDLING  # type: ignore[union-attr]
        agent.executor.wait(timeout=60)
    finally:
        agent.stop()
