"""`scutum run` (the installed entry point) mounts the console only when the settings turn it on."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from simcluster.harness import RunningSim
from tests.agent.test_run_command import SCUTUM, free_port, wait_for


@contextmanager
def _daemon(sim: RunningSim, tmp_path: Path, *, console: bool) -> Iterator[str]:
    port = free_port()
    config = tmp_path / f"config-{console}.yaml"
    settings = {
        "kube": {"url": sim.url},
        "http": {"port": port},
        "alertmanager": {"poll_interval_seconds": 5},
        "policy": {"shadow": True},
        "console": {"enabled": console},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    process = subprocess.Popen(
        [str(SCUTUM), "run", "--config", str(config), "--data-dir", str(tmp_path / f"data-{console}")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_run_serves_the_console_when_enabled_and_not_otherwise(sim: RunningSim, tmp_path: Path) -> None:
    with _daemon(sim, tmp_path, console=True) as base:
        page = httpx.get(f"{base}/console/", timeout=10)
        assert page.status_code == 200 and "Incidents" in page.text
        assert "no authenticating proxy is configured" in page.text  # read-only without identity_header
    with _daemon(sim, tmp_path, console=False) as base:
        assert httpx.get(f"{base}/console/", timeout=10).status_code == 404
