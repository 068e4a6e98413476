"""A fleet on one store: two simulated clusters, two agents, one PostgreSQL schema.

Each agent runs in its own cluster under its own name; they share the database. What one does
never acts on, blocks or rewrites the other: the tests read the store's rows and both clusters'
objects, not what the processes say.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from agent.app import Agent, build_agent
from agent.audit import AuditLog
from agent.cli import app
from agent.settings import Settings, load_settings
from agent.status import read_fleet_status
from approvals import cli_channel
from approvals.model import ApprovalState, VoteChannel, VoteDecision
from approvals.queue import Relayed
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, running_sim

pytestmark = pytest.mark.postgres

CRONJOB = ("CronJob", "batch", "nightly-report")


@dataclass
class Member:
    """One cluster of the fleet: its simulated cluster and its agent."""

    name: str
    sim: RunningSim
    agent: Agent


def _settings(sim: RunningSim, url: str, cluster: str, approvers: tuple[str, ...]) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "database": base.database.model_copy(update={"url": url}),
            # the same pod name in both clusters: replicas are named per cluster
            "agent": base.agent.model_copy(update={"cluster": cluster, "identity": "scutum-0"}),
            "approvals": base.approvals.model_copy(update={"cli_approvers": approvers}),
            "policy": base.policy.model_copy(update={"execute_max": 0.0}),  # every action asks a person
        }
    )


def _member(stack: list[Any], url: str, name: str, approvers: tuple[str, ...]) -> Member:
    context = running_sim("sample", clock=ManualClock())
    sim = context.__enter__()
    stack.append(context)
    clock = sim.cluster.clock
    assert isinstance(clock, ManualClock)
    agent = build_agent(
        _settings(sim, url, name, approvers),
        clock=clock.now,
        use_cache=False,
        sleep=sim.cluster.tick,
        verify_timeout_seconds=5.0,
    )
    sim.cluster.tick(3600)
    agent.start(schedule=False)
    stack.append(agent)
    return Member(name, sim, agent)


@pytest.fixture
def fleet(postgres_url: str) -> Iterator[tuple[Member, Member]]:
    """Clusters `alpha` and `beta` on one schema. Alpha's CLI list also names `alpha-admin`,
    whom beta does not know."""
    stack: list[Any] = []
    try:
        alpha = _member(stack, postgres_url, "alpha", ("oncall", "alpha-admin"))
        beta = _member(stack, postgres_url, "beta", ("oncall",))
        yield alpha, beta
    finally:
        for item in reversed(stack):
            if isinstance(item, Agent):
                item.stop()
            else:
                item.__exit__(None, None, None)


def _fire_runaway_cronjob(member: Member) -> str:
    """The same fault in a cluster; returns the approval request the agent opened for it."""
    member.sim.cluster.inject("cronjob_runaway", namespace="batch", cronjob="nightly-report")
    for _ in range(150):
        member.sim.cluster.tick(30)
    handled = [h for h in member.agent.poll_once() if h.approval_id]
    assert handled, f"{member.name}: the runaway CronJob should be proposed for suspension"
    request_id = handled[0].approval_id
    assert request_id is not None
    return request_id


def _suspended(member: Member) -> bool:
    return member.sim.cluster.store.get(*CRONJOB)["spec"].get("suspend") is True


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        return list(conn.execute(query).fetchall())


def _audit_events(agent: Agent) -> list[str]:
    return [str(r.payload.get("event", r.kind)) for r in agent.store.audit.records()]


def test_the_same_alert_in_two_clusters_is_two_incidents_each_seen_only_at_home(
    fleet: tuple[Member, Member], postgres_url: str
) -> None:
    alpha, beta = fleet
    alpha_request = _fire_runaway_cronjob(alpha)
    beta_request = _fire_runaway_cronjob(beta)

    rows = _rows(
        postgres_url,
        "SELECT i.cluster, i.id, i.fingerprint FROM incidents i JOIN approval_requests r ON r.incident_id = i.id "
        "ORDER BY i.cluster",
    )
    assert [r[0] for r in rows] == ["alpha", "beta"]
    assert rows[0][1] != rows[1][1] and rows[0][2] == rows[1][2]  # one fingerprint, two incidents
    counts = dict(_rows(postgres_url, "SELECT cluster, count(*) FROM incidents GROUP BY cluster"))
    assert counts["alpha"] == counts["beta"] > 1  # the same estate raises the same alerts in both
    requests = _rows(postgres_url, "SELECT id, cluster, incident_id FROM approval_requests ORDER BY cluster")
    assert [(r[0], r[1]) for r in requests] == [(alpha_request, "alpha"), (beta_request, "beta")]
    alpha_ids = {i.id for i in alpha.agent.store.incidents.active()}
    beta_ids = {i.id for i in beta.agent.store.incidents.active()}
    assert rows[0][1] in alpha_ids and rows[1][1] in beta_ids and not alpha_ids & beta_ids
    assert {i.cluster for i in alpha.agent.store.incidents.active()} == {"alpha"}
    assert alpha.agent.approvals.get(beta_request) is None and beta.agent.approvals.get(alpha_request) is None
    replicas = _rows(postgres_url, "SELECT cluster, identity FROM replicas ORDER BY cluster")
    assert replicas == [("alpha", "scutum-0"), ("beta", "scutum-0")]


def test_an_approval_for_alpha_acts_on_alpha_only(fleet: tuple[Member, Member], postgres_url: str) -> None:
    alpha, beta = fleet
    alpha_request = _fire_runaway_cronjob(alpha)
    beta_request = _fire_runaway_cronjob(beta)

    approved = cli_channel.approve(alpha.agent.approvals, alpha_request, as_user="oncall", now=alpha.agent.clock())
    assert approved.exit_code == 0
    beta.agent.dispatch()  # beta's leader sees no approved request of its own
    beta.agent.executor.wait(timeout=30)
    assert _rows(postgres_url, "SELECT count(*) FROM executions") == [(0,)]
    assert not _suspended(beta)

    alpha.agent.dispatch()
    alpha.agent.executor.wait(timeout=60)
    assert _suspended(alpha) and not _suspended(beta)
    assert _rows(postgres_url, "SELECT cluster, approval_request_id, state FROM executions") == [
        ("alpha", alpha_request, "succeeded")
    ]
    assert beta.agent.approvals.get(beta_request).state is ApprovalState.PENDING  # type: ignore[union-attr]


def test_a_vote_for_beta_received_by_alpha_is_cast_by_beta_and_run_by_beta_only(
    fleet: tuple[Member, Member], postgres_url: str
) -> None:
    alpha, beta = fleet
    beta_request = _fire_runaway_cronjob(beta)

    outcome = cli_channel.approve(alpha.agent.approvals, beta_request, as_user="oncall", now=alpha.agent.clock())
    assert outcome.result == "relayed" and outcome.exit_code == 0
    assert beta.agent.approvals.get(beta_request).state is ApprovalState.PENDING  # type: ignore[union-attr]
    assert _rows(postgres_url, "SELECT cluster, received_by FROM relayed_votes") == [("beta", "alpha")]
    alpha.agent.dispatch()  # alpha never runs it, nor casts it
    alpha.agent.executor.wait(timeout=30)
    assert _rows(postgres_url, "SELECT count(*) FROM approval_votes") == [(0,)]

    beta.agent.dispatch()  # beta's leader casts the vote (approved), then runs the request
    beta.agent.executor.wait(timeout=60)
    beta.agent.dispatch()
    beta.agent.executor.wait(timeout=60)

    assert _suspended(beta) and not _suspended(alpha)
    assert _rows(postgres_url, "SELECT cluster, request_id, approver FROM approval_votes") == [
        ("beta", beta_request, "oncall")
    ]
    assert _rows(postgres_url, "SELECT cluster, state FROM executions") == [("beta", "succeeded")]
    assert _rows(postgres_url, "SELECT count(*) FROM relayed_votes") == [(0,)]
    assert "approval_vote_relayed" in _audit_events(alpha.agent)
    beta_events = _audit_events(beta.agent)
    assert "approval_vote_relay_taken" in beta_events and "approval_vote_recorded" in beta_events
    assert "approval_vote_recorded" not in _audit_events(alpha.agent)
    assert alpha.agent.audit.verify().ok and beta.agent.audit.verify().ok


def test_a_relayed_vote_meets_the_owners_approver_list_not_the_receivers(
    fleet: tuple[Member, Member], postgres_url: str
) -> None:
    alpha, beta = fleet
    beta_request = _fire_runaway_cronjob(beta)

    relayed = alpha.agent.approvals.vote(
        beta_request, "alpha-admin", VoteDecision.APPROVE, channel=VoteChannel.CLI, now=alpha.agent.clock()
    )
    assert relayed == Relayed(beta_request, "beta")
    beta.agent.dispatch()
    beta.agent.executor.wait(timeout=30)

    assert beta.agent.approvals.get(beta_request).state is ApprovalState.PENDING  # type: ignore[union-attr]
    assert "approval_vote_refused" in _audit_events(beta.agent)
    assert _rows(postgres_url, "SELECT count(*) FROM executions") == [(0,)]
    assert not _suspended(beta)


def test_beta_down_does_not_stall_alpha(fleet: tuple[Member, Member], postgres_url: str) -> None:
    alpha, beta = fleet
    beta_request = _fire_runaway_cronjob(beta)
    assert (
        cli_channel.approve(beta.agent.approvals, beta_request, as_user="oncall", now=beta.agent.clock()).exit_code == 0
    )
    beta.sim.server.api.faults.add({"kind": "status", "status": 503})  # beta's API fails every request

    beta.agent.poll_once()
    beta.agent.dispatch()
    beta.agent.executor.wait(timeout=60)
    alpha_request = _fire_runaway_cronjob(alpha)
    assert (
        cli_channel.approve(alpha.agent.approvals, alpha_request, as_user="oncall", now=alpha.agent.clock()).exit_code
        == 0
    )
    alpha.agent.dispatch()
    alpha.agent.executor.wait(timeout=60)

    assert _suspended(alpha)
    assert _rows(postgres_url, "SELECT state FROM executions WHERE cluster = 'alpha'") == [("succeeded",)]
    assert _rows(postgres_url, "SELECT state FROM executions WHERE cluster = 'beta'") != [("succeeded",)]
    assert not _suspended(beta)


def test_each_cluster_verifies_its_own_chain_and_tamper_is_reported_where_it_is(
    fleet: tuple[Member, Member], postgres_url: str, tmp_path: Path
) -> None:
    alpha, beta = fleet
    _fire_runaway_cronjob(alpha)
    _fire_runaway_cronjob(beta)
    env = {"SCUTUM_DATABASE__URL": postgres_url, "SCUTUM_AGENT__CLUSTER": "alpha"}
    runner = CliRunner()

    ok = runner.invoke(app, ["audit", "verify", "--all-clusters"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "cluster alpha: audit chain intact" in ok.output and "cluster beta: audit chain intact" in ok.output

    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:  # the owner, bypassing the append-only trigger
        conn.execute("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
        conn.execute("UPDATE audit_records SET actor = 'someone else' WHERE cluster = 'beta' AND seq = 2")
        conn.execute("ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")

    broken = runner.invoke(app, ["audit", "verify", "--all-clusters"], env=env)
    assert broken.exit_code == 1
    assert "cluster alpha: audit chain intact" in broken.output
    assert "cluster beta: audit chain broken at record seq 2" in broken.output
    own = runner.invoke(app, ["audit", "verify"], env=env)  # alpha's own chain, as before the fleet
    assert own.exit_code == 0 and own.output.startswith("audit chain intact")
    assert runner.invoke(app, ["audit", "verify", "--cluster", "beta"], env=env).exit_code == 1


def test_status_of_all_clusters_has_one_row_per_cluster(fleet: tuple[Member, Member]) -> None:
    alpha, beta = fleet
    _fire_runaway_cronjob(alpha)
    _fire_runaway_cronjob(beta)
    beta.agent.kill_switch.pause(reason="maintenance", by="oncall")

    status = read_fleet_status(alpha.agent.store)

    rows = {c.cluster: c for c in status.clusters}
    assert set(rows) == {"alpha", "beta"}
    for name in ("alpha", "beta"):
        assert rows[name].open_incidents == 1 and rows[name].pending_approvals == 1
        assert rows[name].leader == "scutum-0" and rows[name].last_decision_at is not None
        chain = AuditLog(alpha.agent.store.for_cluster(name).audit)
        assert rows[name].head.seq > 0 and chain.verify().ok
    assert rows["beta"].paused and not rows["alpha"].paused
    assert not alpha.agent.kill_switch.is_paused()
    lines = status.lines()
    assert lines[0].startswith("CLUSTER") and any(line.startswith("alpha *") for line in lines)


def test_a_relayed_vote_survives_a_restart_of_its_owner_and_a_second_cast_runs_nothing_twice(
    fleet: tuple[Member, Member], postgres_url: str
) -> None:
    alpha, beta = fleet
    beta_request = _fire_runaway_cronjob(beta)
    cli_channel.approve(alpha.agent.approvals, beta_request, as_user="oncall", now=alpha.agent.clock())
    (relayed,) = beta.agent.store.approvals.relayed_votes()
    beta.agent.stop()  # beta restarts before its leader took the vote

    clock = beta.sim.cluster.clock
    assert isinstance(clock, ManualClock)
    successor = build_agent(
        _settings(beta.sim, postgres_url, "beta", ("oncall",)),
        clock=clock.now,
        use_cache=False,
        sleep=beta.sim.cluster.tick,
        verify_timeout_seconds=5.0,
    )
    successor.start(schedule=False)
    try:
        # as if a leader died between casting the vote and forgetting it: the vote is cast again
        successor.approvals.vote(
            beta_request,
            relayed.vote.approver,
            relayed.vote.decision,
            channel=relayed.vote.channel,
            now=relayed.vote.at,
        )
        successor.dispatch()
        successor.executor.wait(timeout=60)
        successor.dispatch()
        successor.executor.wait(timeout=60)
        assert _suspended(beta) and not _suspended(alpha)
        assert _rows(postgres_url, "SELECT cluster, state FROM executions") == [("beta", "succeeded")]
        assert _rows(postgres_url, "SELECT count(*) FROM relayed_votes") == [(0,)]
        assert successor.approvals.get(beta_request).state is ApprovalState.SUCCEEDED  # type: ignore[union-attr]
        assert successor.audit.verify().ok
    finally:
        successor.stop()
