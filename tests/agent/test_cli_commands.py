"""The CLI contract: `actions`, `plan --json`, `approvals`, with bad input answered clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from actions.base import ActionName
from agent.commands import app
from simcluster.harness import RunningSim

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_actions_list_json_names_exactly_the_nine_actions() -> None:
    result = invoke("actions", "list", "--json")
    assert result.exit_code == 0
    entries = json.loads(result.stdout)
    assert {e["name"] for e in entries} == {a.value for a in ActionName}
    for entry in entries:
        assert set(entry) >= {"name", "summary", "params_schema", "reversibility", "scope", "permissions"}


def test_actions_schema_prints_the_params_schema() -> None:
    result = invoke("actions", "schema", "scale_workload")
    schema = json.loads(result.stdout)
    assert result.exit_code == 0 and schema["additionalProperties"] is False
    assert "replicas" in schema["properties"]


def test_actions_schema_refuses_a_name_outside_the_registry() -> None:
    result = invoke("actions", "schema", "kubectl_exec")
    assert result.exit_code == 2
    assert "kubectl_exec" in result.stderr and "Traceback" not in result.stderr


def _bad_rollout_alerts(sim: RunningSim) -> list[dict[str, Any]]:
    sim.cluster.tick(3600)
    sim.cluster.inject("bad_image_rollout", namespace="shop", deployment="frontend")
    for _ in range(60):
        sim.cluster.tick(20)
    alerts: list[dict[str, Any]] = httpx.get(f"{sim.url}/api/v2/alerts", timeout=10).json()
    return alerts


def test_plan_json_follows_the_contract_and_executes_nothing(sim: RunningSim, tmp_path: Path) -> None:
    alerts = _bad_rollout_alerts(sim)
    alert_file = tmp_path / "alerts.json"
    alert_file.write_text(json.dumps(alerts))
    before = sim.cluster.store.get("Deployment", "shop", "frontend")
    result = invoke("plan", "--alert", str(alert_file), "--json", "--kubeconfig", str(sim.kubeconfig_path))
    assert result.exit_code == 0, result.stderr
    objects = json.loads(result.stdout)
    assert objects, "one object per incident or ignored alert"
    for obj in objects:
        assert set(obj) == {"incident", "proposal", "escalation", "risk", "verdict", "reasons"}
        assert obj["verdict"] in {"execute", "approve", "deny", "escalate", "ignore"}
    rollback = [o for o in objects if o["proposal"] and o["proposal"]["action"] == "rollback_workload"]
    assert rollback, objects
    risk = rollback[0]["risk"]
    assert set(risk["components"]) == {"blast_radius", "reversibility", "state_validity", "operational_pressure"}
    assert all(0.0 <= c["score"] <= 1.0 and isinstance(c["reasons"], list) for c in risk["components"].values())
    after = sim.cluster.store.get("Deployment", "shop", "frontend")
    assert after["spec"] == before["spec"], "plan must not change the cluster"


def test_plan_skips_a_malformed_alert_with_a_clear_error_and_keeps_the_rest(sim: RunningSim, tmp_path: Path) -> None:
    watchdog = {
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "fingerprint": "0000000000000001",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "null"}],
        "generatorURL": "",
    }
    alert_file = tmp_path / "alerts.json"
    alert_file.write_text(json.dumps([{"labels": "not an object"}, watchdog]))
    result = invoke("plan", "--alert", str(alert_file), "--json", "--kubeconfig", str(sim.kubeconfig_path))
    assert result.exit_code == 2
    assert "malformed alert" in result.stderr
    objects = json.loads(result.stdout)
    assert [o["verdict"] for o in objects] == ["ignore"]


def test_plan_on_a_missing_file_says_so(tmp_path: Path) -> None:
    result = invoke("plan", "--alert", str(tmp_path / "nope.json"), "--json")
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_approvals_list_on_an_empty_store_says_no_requests(tmp_path: Path) -> None:
    result = invoke("approvals", "list", "--data-dir", str(tmp_path))
    assert result.exit_code == 0 and "no requests" in result.stdout


def test_approving_an_unknown_request_fails_without_a_traceback(tmp_path: Path) -> None:
    result = invoke("approvals", "approve", "missing-id", "--as", "requester", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("commands", "recorded"),
    [
        ([["pause", "--reason", "incident review", "--as", "oncall"]], 1),
        ([["pause", "--reason", "incident review", "--as", "oncall"], ["resume", "--as", "oncall"]], 2),
        ([["resume", "--as", "oncall"]], 0),  # not paused: nothing changed, nothing to record
    ],
)
def test_the_kill_switch_commands_are_recorded(tmp_path: Path, commands: list[list[str]], recorded: int) -> None:
    for command in commands:
        assert invoke(*command, "--data-dir", str(tmp_path)).exit_code == 0
    verify = invoke("audit", "verify", "--data-dir", str(tmp_path), "--json")
    assert json.loads(verify.stdout)["count"] == recorded


def test_an_exported_chain_verifies_offline_and_an_edited_copy_does_not(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    invoke("pause", "--reason", "drill", "--as", "oncall", "--data-dir", data)
    invoke("resume", "--as", "oncall", "--data-dir", data)
    export = tmp_path / "chain.jsonl"
    assert invoke("audit", "export", "--data-dir", data, "-o", str(export)).exit_code == 0
    assert invoke("audit", "verify", "--input", str(export), "--data-dir", data).exit_code == 0

    lines = export.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[0])
    edited["payload"]["reason"] = "nothing to see"
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n", encoding="utf-8")
    result = invoke("audit", "verify", "--input", str(tampered), "--data-dir", data, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["first_bad_seq"] == 1

    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n", encoding="utf-8")
    result = invoke("audit", "verify", "--input", str(garbage), "--data-dir", data)
    assert result.exit_code == 1 and "line 1" in result.stderr
