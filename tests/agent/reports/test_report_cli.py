"""`scutum report calibration | coverage` on a store seeded with generated history."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.commands import app
from agent.reports.seed import SeedClock, seed
from agent.store import Store
from risk.simulated_history import World, generate
from risk.track import Ending, PastDecision

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("reports")
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{directory / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    history = generate(World(days=8, per_day=20), seed=11)
    first = next(i for i, d in enumerate(history) if d.action is None)
    # an alert name is untrusted text: it must arrive escaped in HTML
    history[first] = replace(history[first], alert_name="<script>alert(1)</script>")
    seed(store, clock, history)
    store.close()
    return directory


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), env={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_calibration_json_holds_the_reliability_table_drift_and_audit(data_dir: Path) -> None:
    data = json.loads(_invoke("report", "calibration", "--data-dir", str(data_dir), "--json"))
    cal = data["calibration"]
    assert cal["executed"] == sum(row["executed"] for row in cal["reliability"]) > 0
    assert {r["signal"] for r in data["drift"]} == {
        "rubber_stamping",
        "auto_band_excess",
        "auto_band_widened",
        "claims_disputed_rise",
    }
    assert {a["planner"] for a in data["precondition_audit"]} == {"runbook", "llm"}
    assert set(cal["components"]) == {"blast_radius", "reversibility", "state_validity", "operational_pressure"}


def test_since_a_future_date_reports_nothing(data_dir: Path) -> None:
    data = json.loads(_invoke("report", "coverage", "--data-dir", str(data_dir), "--json", "--since", "2099-01-01"))
    assert data["incidents"] == 0


def test_coverage_json_curve_rises_to_the_share_addressed(data_dir: Path) -> None:
    data = json.loads(_invoke("report", "coverage", "--data-dir", str(data_dir), "--json"))
    shares = [p["share"] for p in data["curve"]]
    assert len(shares) == 9 and shares == sorted(shares)
    assert shares[-1] == pytest.approx(data["share_addressed"])
    assert data["no_fit"] == sum(data["no_fit_by_alert"].values()) > 0
    assert data["tenth"]["alert"] in data["no_fit_by_alert"]


def test_html_reports_are_self_contained_and_escape_store_text(data_dir: Path, tmp_path: Path) -> None:
    for name in ("calibration", "coverage"):
        page = tmp_path / f"{name}.html"
        _invoke("report", name, "--data-dir", str(data_dir), "--html", str(page))
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
        assert "<script" not in text
    assert "&lt;script&gt;" in (tmp_path / "coverage.html").read_text(encoding="utf-8")


def test_text_summary_and_a_bad_since(data_dir: Path) -> None:
    assert "calibration:" in _invoke("report", "calibration", "--data-dir", str(data_dir))
    assert "coverage:" in _invoke("report", "coverage", "--data-dir", str(data_dir), "--since", "3650d")
    result = runner.invoke(app, ["report", "coverage", "--data-dir", str(data_dir), "--since", "yesterday"], env={})
    assert result.exit_code == 2


def test_gauges_export_the_drift_signals_and_reliability(data_dir: Path) -> None:
    from datetime import timedelta

    from agent.metrics import Metrics
    from agent.reports.gauges import refresh_gauges

    store = Store.connect(f"sqlite:///{data_dir / 'scutum.db'}")
    metrics = Metrics()
    refresh_gauges(metrics, store, now=World().start + timedelta(days=8))
    store.close()
    text = metrics.render().decode()
    assert 'scutum_drift_signal{signal="rubber_stamping"} 0.0' in text
    assert 'scutum_bad_outcome_rate{band="0.0-0.2"}' in text
    assert "scutum_calibration_brier_score " in text


def test_autonomy_and_preconditions_reports(data_dir: Path) -> None:
    rows = json.loads(_invoke("report", "autonomy", "--data-dir", str(data_dir), "--json"))
    assert rows and {"advice", "streak", "evidence", "mode"} <= set(rows[0])
    assert "mode" in _invoke("report", "autonomy", "--data-dir", str(data_dir))
    audits = json.loads(_invoke("report", "preconditions", "--data-dir", str(data_dir), "--json"))
    assert {a["planner"] for a in audits} == {"runbook", "llm"}
    assert all(a["disputed"] == len(a["examples"]) or len(a["examples"]) == 5 for a in audits)
    assert "proposals disputed" in _invoke("report", "preconditions", "--data-dir", str(data_dir))


def test_report_text_is_made_safe_for_a_terminal() -> None:
    from agent.reports.build import terminal_safe

    assert terminal_safe("KubePodCrashLooping\x1b[2J\x07 on shop") == "KubePodCrashLooping?[2J? on shop"
    assert len(terminal_safe("x" * 1000)) == 400


@pytest.mark.parametrize("report", ["calibration", "coverage", "autonomy", "preconditions"])
def test_a_report_on_a_missing_store_is_refused_and_creates_nothing(report: str, tmp_path: Path) -> None:
    missing = tmp_path / "typo"

    result = runner.invoke(app, ["report", report, "--data-dir", str(missing), "--json"], env={})

    assert result.exit_code == 2
    assert "no store at" in result.stderr and result.stdout == ""
    assert not missing.exists()


def test_policy_list_on_a_missing_store_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo"

    result = runner.invoke(app, ["policy", "list", "--data-dir", str(missing)], env={})

    assert result.exit_code == 2 and "no store at" in result.stderr
    assert not missing.exists()


def test_calibration_counts_a_fix_its_owner_reverted_as_a_bad_outcome(tmp_path: Path) -> None:
    """The owner watch's `reverted-by-owner` record labels the run: executed, ended badly."""
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    endings = [Ending.VERIFIED, Ending.REVERTED_BY_OWNER, Ending.VERIFIED, Ending.REVERTED_BY_OWNER]
    history = [
        PastDecision(
            at=start + timedelta(hours=i),
            incident_id=f"inc-{i}",
            alert_name="KubeDeploymentRolloutStuck",
            namespace="shop",
            verdict="execute",
            ending=ending,
            action="rollback_workload",
            planner="runbook",
            risk=0.25,
            components={"state_validity": 0.1},
            resolved_after_seconds=1800.0,
        )
        for i, ending in enumerate(endings)
    ]
    seed(store, clock, history)
    reverted = [r.payload for r in store.audit.records() if r.payload.get("outcome") == "reverted-by-owner"]
    store.close()
    assert len(reverted) == 2
    cal = json.loads(_invoke("report", "calibration", "--data-dir", str(tmp_path), "--json"))["calibration"]
    assert cal["executed"] == 4
    assert cal["bad"] == 2
    assert cal["endings"] == {"verified": 2, "reverted-by-owner": 2}
    assert sum(row["bad"] for row in cal["reliability"]) == 2
