"""The real Alertmanager as a child process, and a pusher that feeds it simcluster's alerts.

Alertmanager keeps wall time while the simulated cluster keeps its own (a manual clock in the
past), so the pusher sends the cluster's `startsAt` and an `endsAt` in wall time: a firing alert
ends a few minutes from now (Alertmanager keeps it active), a resolved one ends now.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent.settings import ci_required
from simcluster.cluster import SimCluster
from simcluster.pusher import alert_batch

BINARY = Path("/usr/bin/prometheus-alertmanager")
INSTALL_HELP = "the prometheus-alertmanager binary is missing: apt-get install prometheus-alertmanager"
RUN_LABEL = "scutum_e2e_run"
"""Every pushed alert carries this label; each test's agent polls only its own run's alerts."""


def require_alertmanager() -> Path:
    """The binary, or skip (fail under CI=true) with how to install it."""
    found = BINARY if BINARY.exists() else shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found:
        return Path(found)
    if ci_required():
        pytest.fail(f"CI=true requires Alertmanager: {INSTALL_HELP}")
    pytest.skip(INSTALL_HELP)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def alertmanager_config(webhook_url: str | None) -> dict[str, Any]:
    """One route with short timers, to a webhook (send_resolved) or to a receiver that drops everything."""
    receiver: dict[str, Any] = {"name": "agent" if webhook_url else "null"}
    if webhook_url:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    return {
        "global": {"resolve_timeout": "1m"},
        "route": {
            "receiver": receiver["name"],
            "group_by": ["alertname", "namespace"],
            "group_wait": "200ms",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [receiver],
    }


class Alertmanager:
    """`prometheus-alertmanager` on a free port with its own config and storage; `stop()` ends it."""

    def __init__(self, binary: Path, *, webhook_url: str | None = None) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="scutum-am-"))
        config = self._workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(webhook_url)))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (self._workdir / "alertmanager.log").open("wb")
        self._process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config}",
                f"--storage.path={self._workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait for `/-/ready`; raise with the process's log when it never gets there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Alertmanager did not become ready: {self.log_text()}")

    def log_text(self) -> str:
        """What the process wrote (for failure messages)."""
        self._log.flush()
        return (self._workdir / "alertmanager.log").read_text(errors="replace")[-2000:]

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """POST PostableAlerts to `/api/v2/alerts`."""
        if alerts:
            httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5.0).raise_for_status()

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        """What `GET /api/v2/alerts` answers."""
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=5.0)
        response.raise_for_status()
        answer: list[dict[str, Any]] = response.json()
        return answer

    def stop(self) -> None:
        """Terminate the process and remove its files (idempotent)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._log.close()
        shutil.rmtree(self._workdir, ignore_errors=True)


class AlertPusher:
    """Feeds one simulated cluster's firing alerts to Alertmanager, as Prometheus would."""

    def __init__(self, cluster: SimCluster, alertmanager: Alertmanager, *, run: str) -> None:
        self._cluster = cluster
        self._alertmanager = alertmanager
        self.run = run
        self._sent: dict[str, dict[str, Any]] = {}

    def push(self) -> list[dict[str, Any]]:
        """Post what fires now, and post as resolved what fired before and no longer does."""
        batch, self._sent = alert_batch(
            self._cluster.firing_alerts(),
            self._sent,
            now=datetime.now(UTC),
            hold=timedelta(minutes=10),
            extra_labels={RUN_LABEL: self.run},
        )
        self._alertmanager.post(batch)
        return batch
