"""A demo-like setup for the console's tests: the sample estate on a manual clock, an agent
polling it (the simulated cluster serves its own alerts), and the agent's HTTP endpoint with
the console mounted, served by uvicorn on a free port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn

from agent.app import Agent, build_agent
from agent.http import build_http_app
from agent.pipeline import Handled
from agent.settings import Settings, load_settings
from console.wiring import console_for
from risk.settings import PolicySettings
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, running_sim

IDENTITY_HEADER = "X-Forwarded-User"
ALLOWED = "alice@example.org"
SECOND = "bob@example.org"
NOT_ALLOWED = "mallory@example.org"
HOSTILE_NAME = "<script>window.__pwned=1</script>"
HOSTILE_LABEL = '<img src=x onerror="window.__pwned=2">'


def console_settings(workdir: Path, sim_url: str, *, trusted: tuple[str, ...] = ("127.0.0.1",)) -> Settings:
    """Settings with the console on, the proxy header configured, and every action sent for approval."""
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": workdir / "data",
            "kube": base.kube.model_copy(update={"url": sim_url}),
            "agent": base.agent.model_copy(update={"identity": "scutum-0"}),
            "console": base.console.model_copy(
                update={
                    "enabled": True,
                    "identity_header": IDENTITY_HEADER,
                    "trusted_proxies": list(trusted),
                    "refresh_seconds": 1,
                }
            ),
            "approvals": base.approvals.model_copy(
                update={"console_approvers": (ALLOWED, SECOND), "timeout_seconds": 4 * 3600.0}
            ),
            "policy": PolicySettings.model_validate({**base.policy.model_dump(), "execute_max": 0.0}),
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ConsoleWorld:
    """The simulated cluster, the agent on it, and where its console answers."""

    sim: RunningSim
    agent: Agent
    url: str

    def tick(self, seconds: float) -> None:
        """Advance simulated time (the executor's pauses also tick)."""
        self.sim.cluster.tick(seconds)

    def incident_needing_approval(
        self, fault: str = "bad_image_rollout", *, max_seconds: float = 1800.0, **params: str
    ) -> Handled:
        """Inject a fault (the shop's frontend gets a bad image by default) and poll until the
        agent asks for approval."""
        self.sim.cluster.inject(fault, **(params or {"namespace": "shop", "deployment": "frontend"}))
        elapsed = 0.0
        while elapsed < max_seconds:
            self.tick(15.0)
            elapsed += 15.0
            for handled in self.agent.poll_once():
                if handled.approval_id is not None:
                    return handled
        raise AssertionError("no approval request within the simulated time")

    def hostile_alert(self) -> list[Handled]:
        """A webhook alert whose name and labels carry markup and script."""
        now = self.agent.clock()
        alert = {
            "status": "firing",
            "labels": {"alertname": HOSTILE_NAME, "namespace": "shop", "pod": HOSTILE_LABEL, "severity": "critical"},
            "annotations": {"summary": HOSTILE_LABEL, "description": HOSTILE_NAME},
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "0badc0de0badc0de",
        }
        payload = {"version": "4", "status": "firing", "receiver": "scutum", "groupKey": "{}:{}", "alerts": [alert]}
        return self.agent.pipeline.ingest_webhook(json.dumps(payload).encode())


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def console_world(workdir: Path) -> Iterator[ConsoleWorld]:
    """The sample estate, settled with an hour of history, an agent on it, its HTTP endpoint served."""
    with running_sim("sample", clock=ManualClock()) as sim:
        sim.cluster.settle(passes=10, seconds=2.0)
        sim.cluster.tick(3600.0)
        sim.cluster.settle(passes=5, seconds=2.0)
        agent = build_agent(
            console_settings(workdir, sim.url),
            clock=sim.cluster.clock.now,
            use_cache=False,
            sleep=lambda _seconds: sim.cluster.tick(10.0),
            verify_timeout_seconds=20.0,
        )
        agent.start(schedule=False)
        app = build_http_app(
            pipeline=agent.pipeline,
            metrics_text=agent.metrics.render,
            is_leader=lambda: True,
            is_ready=lambda: True,
            clock=agent.clock,
            console=console_for(agent),
        )
        try:
            with serve(app) as base:
                yield ConsoleWorld(sim, agent, f"{base}/console")
        finally:
            agent.stop()
