"""The CLI contract: `actions`, `plan --json`, `approvals`, with bad input answered clearly."""

from __future__ import annotations

import json
from datetime import timedelta
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


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[" * 100_000, "nested deeper than"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"[{]", "not valid JSON"),
    ],
)
def test_plan_on_a_hostile_file_is_one_line_and_no_traceback(tmp_path: Path, content: bytes, says: str) -> None:
    hostile = tmp_path / "alerts.json"
    hostile.write_bytes(content)
    result = runner.invoke(app, ["plan", "--alert", str(hostile), "--json"])
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_approvals_list_on_an_empty_store_says_no_requests(tmp_path: Path) -> None:
    assert invoke("db", "upgrade", "--data-dir", str(tmp_path)).exit_code == 0
    result = invoke("approvals", "list", "--data-dir", str(tmp_path))
    assert result.exit_code == 0 and "no requests" in result.stdout


@pytest.mark.parametrize(
    "command", [("approvals", "list"), ("audit", "verify"), ("audit", "export"), ("approvals", "approve", "x")]
)
def test_read_only_commands_refuse_to_create_a_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "not-there"
    extra = ("--as", "oncall") if command[-1] == "x" else ()
    result = invoke(*command, *extra, "--data-dir", str(missing))
    assert result.exit_code == 2
    assert "no store" in result.stderr
    assert not missing.exists()


def test_approving_an_unknown_request_fails_without_a_traceback(tmp_path: Path) -> None:
    assert invoke("db", "upgrade", "--data-dir", str(tmp_path)).exit_code == 0
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


def test_plan_denies_a_node_not_ready_alert_for_a_node_the_cluster_reports_ready(
    sim: RunningSim, tmp_path: Path
) -> None:
    sim.cluster.tick(60)
    node = sim.cluster.store.get("Node", None, "node-1")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
    now = sim.cluster.clock.now()
    alert = {
        "labels": {"alertname": "KubeNodeNotReady", "severity": "warning", "node": "node-1"},
        "annotations": {},
        "startsAt": (now - timedelta(minutes=20)).isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
        "updatedAt": now.isoformat(),
        "fingerprint": "fp-node-1",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }
    alert_file = tmp_path / "alerts.json"
    alert_file.write_text(json.dumps([alert]))
    result = invoke("plan", "--alert", str(alert_file), "--json", "--kubeconfig", str(sim.kubeconfig_path))
    assert result.exit_code == 0, result.stderr
    [obj] = json.loads(result.stdout)
    assert obj["proposal"]["action"] == "drain_node"
    assert obj["verdict"] == "deny"
    assert any("alert_premise" in r and "it is ready" in r for r in obj["reasons"]), obj["reasons"]
    assert not sim.cluster.store.get("Node", None, "node-1")["spec"].get("unschedulable")


@pytest.mark.parametrize("kubeconfig", ["missing", "broken"])
def test_plan_with_an_unusable_kubeconfig_is_one_line(tmp_path: Path, kubeconfig: str) -> None:
    alerts = tmp_path / "alerts.json"
    alerts.write_text("[]", encoding="utf-8")
    path = tmp_path / "kubeconfig"
    if kubeconfig == "broken":
        path.write_text("garbage: [", encoding="utf-8")
    result = runner.invoke(app, ["plan", "--alert", str(alerts), "--kubeconfig", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"scutum: cannot use {path}") and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"a: " + b"[" * 100_000, "nested too deep"), (b"http:\n  port: \xff\n", "not UTF-8")],
)
def test_a_hostile_settings_file_is_one_line(tmp_path: Path, content: bytes, says: str) -> None:
    config = tmp_path / "scutum.yaml"
    config.write_bytes(content)
    result = runner.invoke(app, ["config", "show", "--config", str(config)])
    assert result.exit_code == 2 and says in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_verifying_a_hostile_export_is_one_line(tmp_path: Path) -> None:
    export = tmp_path / "chain.jsonl"
    export.write_bytes(b"[" * 100_000 + b"\n")
    result = runner.invoke(app, ["audit", "verify", "--input", str(export)])
    assert result.exit_code == 1 and "nested too deep" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_plan_with_the_daemons_store_decides_as_the_daemon_would(sim: RunningSim, tmp_path: Path) -> None:
    sim.cluster.settle(passes=10, seconds=2.0)  # an estate that served for an hour before the bad rollout
    alert_file = tmp_path / "alerts.json"
    alert_file.write_text(json.dumps(_bad_rollout_alerts(sim)))
    data = str(tmp_path / "data")
    assert invoke("db", "upgrade", "--data-dir", data).exit_code == 0  # the daemon's store (plan never creates one)
    plan = ("plan", "--alert", str(alert_file), "--json", "--kubeconfig", str(sim.kubeconfig_path))

    def rollback_verdict(*extra: str) -> tuple[str, list[str]]:
        result = invoke(*plan, *extra)
        assert result.exit_code == 0, result.stderr
        found = [o for o in json.loads(result.stdout) if (o["proposal"] or {}).get("action") == "rollback_workload"]
        assert found, result.stdout
        return found[0]["verdict"], found[0]["reasons"]

    assert rollback_verdict("--data-dir", data)[0] == rollback_verdict()[0] != "deny"
    invoke("pause", "--reason", "drill", "--as", "oncall", "--data-dir", data)
    verdict, reasons = rollback_verdict("--data-dir", data)
    missing = invoke(*plan, "--data-dir", str(tmp_path / "no-such-store"))
    assert missing.exit_code == 2 and "no store at" in missing.stderr
    assert verdict == "deny" and any("kill switch" in r for r in reasons), reasons


def test_plan_denies_a_rollback_of_a_workload_created_minutes_before_its_incident(
    sim: RunningSim, tmp_path: Path
) -> None:
    alert_file = tmp_path / "alerts.json"
    alert_file.write_text(
        json.dumps(_bad_rollout_alerts(sim))
    )  # frontend's first revision is 20 s older than the bad one
    result = invoke("plan", "--alert", str(alert_file), "--json", "--kubeconfig", str(sim.kubeconfig_path))
    rollbacks = [o for o in json.loads(result.stdout) if (o["proposal"] or {}).get("action") == "rollback_workload"]
    assert rollbacks and all(o["verdict"] == "deny" for o in rollbacks)
    assert all(any("nothing to roll back to" in r for r in o["reasons"]) for o in rollbacks)
