"""`scutum demo --yes` plays every scripted incident end to end, and its store's audit chain verifies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCUTUM = Path(sys.executable).parent / "scutum"


@pytest.mark.e2e
def test_demo_handles_every_incident_and_its_audit_chain_verifies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo = subprocess.run(
        [str(SCUTUM), "demo", "--yes", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "7 of 7 incidents handled" in demo.stdout
    assert "calibration: " in demo.stdout and "coverage: " in demo.stdout
    pages = [Path(line.split("report: ", 1)[1]) for line in demo.stdout.splitlines() if "report: " in line]
    assert [p.name for p in pages] == ["calibration.html", "coverage.html"]
    assert all(p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for p in pages)

    verify = subprocess.run(
        [str(SCUTUM), "audit", "verify", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
