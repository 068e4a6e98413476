"""The push path end to end: Alertmanager's own webhook notifications reach the agent's HTTP
endpoint (served by uvicorn), and the agent acts on what they carry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from agent.http import HttpServer, build_http_app
from agent.intake.alerts import AlertSource
from tests.e2e.alertmanager import Alertmanager, AlertPusher, free_port, require_alertmanager
from tests.e2e.world import World, executions


@pytest.fixture
def webhook_port() -> int:
    return free_port()


@pytest.fixture
def pushing_alertmanager(webhook_port: int) -> Iterator[Alertmanager]:
    """A second Alertmanager whose one receiver is the agent's webhook."""
    process = Alertmanager(require_alertmanager(), webhook_url=f"http://127.0.0.1:{webhook_port}/alertmanager")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_webhook_notifications_from_alertmanager_drive_an_action(
    world: World, pushing_alertmanager: Alertmanager, webhook_port: int
) -> None:
    agent = world.agent(world.settings(policy={"namespaces": {"shop": {"execute_max": 0.79}}}))
    app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics.render,
        is_leader=lambda: agent.is_leader,
        is_ready=lambda: True,
        clock=agent.clock,
    )
    server = HttpServer(app, host="127.0.0.1", port=webhook_port)
    server.start()
    try:
        pusher = AlertPusher(world.sim.cluster, pushing_alertmanager, run=world.pusher.run)
        world.sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
        deadline = time.monotonic() + 30
        while not executions(agent) and time.monotonic() < deadline:
            world.sim.cluster.tick(15)
            pusher.push()
            time.sleep(0.3)  # Alertmanager's group_wait and group_interval are wall time
        agent.executor.wait(timeout=60)
        metrics = httpx.get(f"http://127.0.0.1:{webhook_port}/metrics", timeout=5).text
    finally:
        server.stop()

    (execution,) = executions(agent, target="frontend")
    assert execution.action == "rollback_workload" and execution.state.value == "succeeded"
    incident = agent.pipeline.intake.get(execution.incident_id or "")
    assert incident is not None
    assert {alert.source for alert in incident.alerts.values()} == {AlertSource.WEBHOOK}
    assert 'scutum_actions_total{action="rollback_workload",outcome="succeeded"} 1.0' in metrics
