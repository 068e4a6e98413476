"""`scutum run` as a process: it serves its endpoints, decides what arrives, and stops cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from simcluster.harness import RunningSim

SCUTUM = Path(sys.executable).parent / "scutum"
WEBHOOK = Path(__file__).parent / "fixtures" / "webhook_v4.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, *, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def daemon(sim: RunningSim, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    config = tmp_path / "config.yaml"
    settings = {
        "kube": {"url": sim.url},
        "http": {"port": port},
        "alertmanager": {"poll_interval_seconds": 0.5},
        "policy": {"shadow": True},
        "logging": {"json": "true"},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    process = subprocess.Popen(
        [str(SCUTUM), "run", "--config", str(config), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_run_serves_decides_webhook_alerts_and_stops_on_sigterm(
    daemon: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base = daemon
    assert wait_for(f"{base}/healthz").text == "ok"
    ready = wait_for(f"{base}/readyz").text.splitlines()
    assert ready[0] == "ready" and {"store: ok", "api_server: ok", "scheduler: ok"} <= set(ready)
    assert "scutum_leader 1.0" in wait_for(f"{base}/metrics").text

    response = httpx.post(f"{base}/alertmanager", content=WEBHOOK.read_bytes(), timeout=10.0)
    assert response.status_code == 202  # accepted at once, decided behind the queue
    assert response.json()["accepted"] == 2  # two alerts about one target: one incident
    deadline = time.monotonic() + 30
    while "scutum_incidents_total 1.0" not in httpx.get(f"{base}/metrics", timeout=5.0).text:
        assert time.monotonic() < deadline, "the queued alert was never decided"
        time.sleep(0.2)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stdout is not None
    events = [json.loads(line)["event"] for line in process.stdout.read().decode().splitlines() if line.startswith("{")]
    assert "agent_started" in events and "agent_stopped" in events

    verify = subprocess.run(
        [str(SCUTUM), "audit", "verify", "--data-dir", str(tmp_path / "data")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr


def test_run_exits_non_zero_when_its_port_is_taken(sim: RunningSim, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"kube": {"url": sim.url}, "http": {"port": port}}), encoding="utf-8")
        result = subprocess.run(
            [str(SCUTUM), "run", "--config", str(config), "--data-dir", str(tmp_path / "data")],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
