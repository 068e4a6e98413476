"""Real `scutum run` processes against a simulated cluster served over HTTP in real time, with
the simulator's API faults to stop an agent at a chosen step and its request log as evidence."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from agent.store import Execution, Incident, IncidentStatus, Store
from simcluster.clock import SystemClock
from simcluster.harness import RunningSim, running_sim

SCUTUM = Path(sys.executable).parent / "scutum"
NAMESPACE, WORKLOAD = "shop", "catalog"
FAST_LEASE = {
    "enabled": True,
    "namespace": "default",
    "lease_duration_seconds": 4.0,
    "renew_deadline_seconds": 2.0,
    "retry_period_seconds": 0.5,
    "clock_skew_seconds": 1.0,
}
"""Short Lease timings (the renew deadline plus the skew margin stays below the duration)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Chaos:
    """One simulated cluster, one store, and the agent processes started on them."""

    sim: RunningSim
    workdir: Path
    database_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    agent_database_url: str | None = None
    """Where the agents connect, when not `database_url` itself (through an outage proxy)."""

    def start_agent(self, identity: str, *, leader_election: bool = False) -> subprocess.Popen[bytes]:
        """Start `scutum run` as `identity`; returns once it answers /healthz."""
        port = free_port()
        settings: dict[str, Any] = {
            "kube": {"url": self.sim.url},
            "http": {"port": port},
            "database": {"url": None if self.sqlite else (self.agent_database_url or self.database_url)},
            "agent": {"identity": identity, "shutdown_budget_seconds": 5.0},
            "alertmanager": {"poll_interval_seconds": 0.3},
            "policy": {"namespaces": {NAMESPACE: {"execute_max": 0.79}}},
            "logging": {"json": "true"},
        }
        if leader_election:
            settings["leader_election"] = FAST_LEASE
        config = self.workdir / f"{identity}.yaml"
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        with (self.workdir / f"{identity}.log").open("ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [str(SCUTUM), "run", "--config", str(config), *self._data_dir()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        wait_until(lambda: _ready(port) or process.poll() is not None, timeout=60, what=f"{identity} to start")
        assert process.poll() is None, (self.workdir / f"{identity}.log").read_text()[-2000:]
        return process

    def inject(self) -> None:
        """The fault the agent must fix: the catalog Deployment scaled to zero (its Service loses
        every endpoint; the runbook scales it back to one replica)."""
        self.sim.cluster.inject("scale_to_zero", namespace=NAMESPACE, deployment=WORKLOAD)

    def fault(self, **rule: Any) -> None:
        self.sim.server.api.faults.add(rule)

    def requests(self, **match: Any) -> list[dict[str, Any]]:
        """Logged requests whose fields equal `match`."""
        return [e for e in self.sim.server.api.faults.requests() if all(e.get(k) == v for k, v in match.items())]

    def real_writes(self) -> list[dict[str, Any]]:
        """Real (not dry-run) writes to the workload that reached the server."""
        return [
            e
            for e in self.requests(namespace=NAMESPACE, name=WORKLOAD, dry_run=False)
            if e["verb"] in ("patch", "update", "create", "delete")
        ]

    def replicas(self) -> int:
        return int(self.sim.cluster.store.get("Deployment", NAMESPACE, WORKLOAD)["spec"]["replicas"])

    def executions(self) -> list[Execution]:
        store = Store.connect(self.database_url)
        try:
            return [
                e for e in store.executions.recent(SystemClock().now().replace(year=2000)) if e.target_name == WORKLOAD
            ]
        finally:
            store.close()

    def incidents(self) -> list[Incident]:
        """Every incident in the store."""
        store = Store.connect(self.database_url)
        try:
            return [i for status in IncidentStatus for i in store.incidents.in_status(status)]
        finally:
            store.close()

    def audit(self, kind: str) -> list[dict[str, Any]]:
        store = Store.connect(self.database_url)
        try:
            return [r.payload for r in store.audit.records() if r.kind == kind]
        finally:
            store.close()

    def verify_audit(self) -> subprocess.CompletedProcess[str]:
        config = self.workdir / "verify.yaml"
        config.write_text(yaml.safe_dump({"database": {"url": self.database_url}}), encoding="utf-8")
        return subprocess.run(
            [str(SCUTUM), "audit", "verify", "--config", str(config), *self._data_dir()],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    @property
    def sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def _data_dir(self) -> list[str]:
        """SQLite lives in the data directory (`--data-dir` selects it over any configured URL)."""
        return ["--data-dir", str(self.workdir / "data")] if self.sqlite else []

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)


@contextmanager
def chaos(workdir: Path, database_url: str | None = None) -> Iterator[Chaos]:
    """A real-time simulated cluster whose alerts fire two seconds after their condition; the
    store is SQLite in `workdir/data` unless `database_url` names another."""
    database_url = database_url or f"sqlite:///{workdir / 'data' / 'scutum.db'}"
    with running_sim("sample", clock=SystemClock(), auto_tick=0.5) as sim:
        sim.cluster.alerts.pending_seconds = 2.0
        sim.cluster.settle(passes=5, seconds=1.0)
        world = Chaos(sim, workdir, database_url)
        try:
            yield world
        finally:
            world.stop_all()
