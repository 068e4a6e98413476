"""The foundation commands: config show, db upgrade, audit verify/export, pause/resume."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.settings import REDACTED
from agent.store import Store

runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    config = tmp_path / "scutum.yaml"
    config.write_text("audit:\n  hmac_key: chain-key-123\nslack:\n  bot_token: xoxb-secret\n", encoding="utf-8")

    code, out, _ = _run(
        "config", "show", "--config", str(config), "--json", env={"SCUTUM_PLANNER__LLM__API_KEY": "sk-9"}
    )

    assert code == 0
    for secret in ("chain-key-123", "xoxb-secret", "sk-9"):
        assert secret not in out
    data = json.loads(out)
    assert data["audit"]["hmac_key"] == REDACTED
    assert data["planner"]["llm"]["api_key"] == REDACTED


def test_config_show_prints_yaml_by_default() -> None:
    code, out, _ = _run("config", "show")
    assert code == 0
    assert "data_dir: scutum-data" in out


def test_malformed_config_exits_2_with_message_not_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("http: {port: [1}\n", encoding="utf-8")

    code, out, err = _run("config", "show", "--config", str(config))

    assert code == 2
    assert "bad.yaml:1:" in err
    assert "malformed YAML" in err
    assert "Traceback" not in out + err


def test_unknown_variable_exits_2_naming_it() -> None:
    code, _, err = _run("config", "show", env={"SCUTUM_DATABSE__URL": "sqlite:///x.db"})
    assert code == 2
    assert "SCUTUM_DATABSE__URL" in err
    assert "SCUTUM_DATABASE__URL" in err


def test_db_upgrade_creates_the_embedded_store(tmp_path: Path) -> None:
    code, out, _ = _run("db", "upgrade", "--data-dir", str(tmp_path / "data"))
    assert code == 0
    assert "schema is current" in out
    assert (tmp_path / "data" / "scutum.db").exists()


def test_pause_and_resume_are_stored_and_audited(tmp_path: Path) -> None:
    data_dir = str(tmp_path)
    assert _run("pause", "--reason", "bad deploy", "--as", "oncall-primary", "--data-dir", data_dir)[0] == 0
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    paused = store.control.get()
    assert (paused.paused, paused.reason, paused.changed_by) == (True, "bad deploy", "oncall-primary")

    assert _run("resume", "--as", "oncall-primary", "--data-dir", data_dir)[0] == 0

    assert store.control.get().paused is False
    records = list(store.audit.records())
    store.close()
    assert [(r.kind, r.actor, r.payload["action"]) for r in records] == [
        ("control", "oncall-primary", "pause"),
        ("control", "oncall-primary", "resume"),
    ]


def test_pause_refuses_a_blank_reason(tmp_path: Path) -> None:
    code, _, err = _run("pause", "--reason", " ", "--as", "oncall", "--data-dir", str(tmp_path))
    assert code == 2
    assert "reason is required" in err


def test_audit_verify_exits_0_then_1_naming_the_edited_record(tmp_path: Path) -> None:
    for command in (["pause", "--reason", "r0"], ["resume"], ["pause", "--reason", "r2"]):
        _run(*command, "--as", "oncall", "--data-dir", str(tmp_path))
    code, out, _ = _run("audit", "verify", "--data-dir", str(tmp_path))
    assert code == 0
    assert "intact: 3 records" in out

    with sqlite3.connect(tmp_path / "scutum.db") as raw:
        raw.execute("UPDATE audit_records SET actor = 'attacker' WHERE seq = 2")
    code, _, err = _run("audit", "verify", "--data-dir", str(tmp_path))

    assert code == 1
    assert "seq 2" in err
    assert "edited" in err


def test_audit_verify_with_another_key_reports_bad_key(tmp_path: Path) -> None:
    _run("pause", "--reason", "x", "--as", "oncall", "--data-dir", str(tmp_path), env={"SCUTUM_AUDIT__HMAC_KEY": "k1"})

    code, out, _ = _run("audit", "verify", "--json", "--data-dir", str(tmp_path), env={"SCUTUM_AUDIT__HMAC_KEY": "k2"})

    assert code == 1
    assert json.loads(out)["problem"] == "bad key"


def test_audit_export_writes_json_lines(tmp_path: Path) -> None:
    _run("pause", "--reason", "x", "--as", "oncall", "--data-dir", str(tmp_path))
    _run("resume", "--as", "oncall", "--data-dir", str(tmp_path))
    output = tmp_path / "audit.jsonl"

    code, _, err = _run("audit", "export", "--output", str(output), "--data-dir", str(tmp_path))

    assert code == 0
    assert "exported 2 records" in err
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [1, 2]
    assert lines[1]["prev_hash"] == lines[0]["hash"]


@pytest.mark.postgres
def test_commands_use_the_configured_postgres_url(postgres_url: str) -> None:
    env = {"SCUTUM_DATABASE__URL": postgres_url}
    assert _run("db", "upgrade", env=env)[0] == 0
    assert _run("pause", "--reason", "maintenance", "--as", "oncall", env=env)[0] == 0

    code, out, _ = _run("audit", "verify", "--json", env=env)

    assert code == 0
    assert json.loads(out)["count"] == 1
