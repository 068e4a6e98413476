"""`scutum policy promote | demote | list`: only what was earned, always audited, and the
evaluator's hook reads the promotion back from the store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from agent.commands import app
from agent.reports.seed import SeedClock, seed
from agent.store import Store
from risk.autonomy import PROMOTE_STREAK, apply_grant
from risk.model import Component, ComponentScore, Decision, RiskScore, Verdict
from risk.simulated_history import START
from risk.track import Call, Ending, HumanCall, PastDecision
from tests.risk.builders import restart

runner = CliRunner()
APPROVERS = {"SCUTUM_APPROVALS__CLI_APPROVERS": '["lead"]'}
CASE = ["--action", "restart_workload", "--namespace", "shop", "--alert", "KubePodCrashLooping"]


def _decision(i: int, *, alert: str = "KubePodCrashLooping", risk: float = 0.4) -> PastDecision:
    return PastDecision(
        at=START + timedelta(hours=i),
        incident_id=f"inc-{alert}-{i}",
        alert_name=alert,
        namespace="shop",
        action="restart_workload",
        planner="runbook",
        verdict="approve",
        ending=Ending.VERIFIED,
        risk=risk,
        components={"blast_radius": risk},
        execute_max=0.3,
        human=HumanCall(Call.APPROVED, by=("oncall-ana",), seconds=90.0),
        resolved_after_seconds=1800.0,
    )


def _store(tmp_path: Path) -> Path:
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    earned = [_decision(i, risk=0.35 + 0.01 * i) for i in range(PROMOTE_STREAK)]
    short = [_decision(100 + i, alert="KubeHpaMaxedOut") for i in range(3)]
    seed(store, clock, earned + short)
    store.close()
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=APPROVERS, catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_promote_applies_only_an_earned_case_and_is_audited(tmp_path: Path) -> None:
    data = str(_store(tmp_path))
    code, out = _run(
        "policy",
        "promote",
        "--action",
        "restart_workload",
        "--namespace",
        "shop",
        "--alert",
        "KubeHpaMaxedOut",
        "--as",
        "lead",
        "--data-dir",
        data,
    )
    assert code == 2 and "not earned: streak 3 of 10" in out
    code, out = _run("policy", "promote", *CASE, "--as", "lead", "--data-dir", data)
    assert code == 0 and "up to risk 0.44" in out
    grants = json.loads(_run("policy", "list", "--data-dir", data, "--json")[1])
    assert [(g["mode"], g["by"], len(g["evidence"])) for g in grants] == [("execute", "lead", PROMOTE_STREAK)]
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    audit = [r for r in store.audit.records() if r.kind == "control"]
    assert audit[-1].actor == "lead" and audit[-1].payload["action"] == "promote"
    proposal = replace(restart("web", "shop"), alert_names=("KubePodCrashLooping",))
    risk = RiskScore(total=0.44, components={c: ComponentScore(0.44) for c in Component})
    decided = apply_grant(proposal, Decision(Verdict.APPROVE, risk, ("approval required",)), store.autonomy)
    assert decided.verdict is Verdict.EXECUTE
    store.close()


def test_demote_takes_the_promotion_back_and_needs_one_to_exist(tmp_path: Path) -> None:
    data = str(_store(tmp_path))
    assert _run("policy", "demote", *CASE, "--as", "lead", "--data-dir", data)[0] == 2
    assert _run("policy", "promote", *CASE, "--as", "lead", "--data-dir", data)[0] == 0
    code, out = _run("policy", "demote", *CASE, "--as", "sre-2", "--reason", "failed twice", "--data-dir", data)
    assert code == 0 and "asks for approval again" in out
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    assert store.autonomy.grant_for("restart_workload", "shop", "KubePodCrashLooping") is None
    store.close()
    assert "sre-2" in _run("policy", "list", "--data-dir", data)[1]


def test_a_promotion_never_covers_the_two_approver_band(tmp_path: Path) -> None:
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    seed(store, clock, [_decision(i, risk=0.9) for i in range(PROMOTE_STREAK)])  # each approved by humans at 0.9
    store.close()

    code, out = _run("policy", "promote", *CASE, "--as", "lead", "--data-dir", str(tmp_path))

    assert code == 0 and "up to risk 0.79" in out
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    proposal = replace(restart("web", "shop"), alert_names=("KubePodCrashLooping",))
    risk = RiskScore(total=0.85, components={c: ComponentScore(0.85) for c in Component})
    decided = apply_grant(proposal, Decision(Verdict.APPROVE, risk, ("approval required",)), store.autonomy)
    assert decided.verdict is Verdict.APPROVE
    store.close()


def test_only_an_approver_may_promote(tmp_path: Path) -> None:
    data = str(_store(tmp_path))

    code, out = _run("policy", "promote", *CASE, "--as", "mallory", "--data-dir", data)

    assert code == 2 and "not on the approver lists" in out
    assert json.loads(_run("policy", "list", "--data-dir", data, "--json")[1]) == []


def test_a_person_named_in_people_may_promote_under_their_cli_name(tmp_path: Path) -> None:
    clock = SeedClock()
    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}", clock=clock.now)
    store.upgrade()
    seed(store, clock, [_decision(i, risk=0.5) for i in range(PROMOTE_STREAK)])
    store.close()
    people = {"SCUTUM_APPROVALS__PEOPLE": '{"dana": {"cli": ["dana"], "slack": ["UDANA"]}}'}

    result = runner.invoke(app, ["policy", "promote", *CASE, "--as", "dana", "--data-dir", str(tmp_path)], env=people)

    assert result.exit_code == 0, result.output
    assert "promoted by dana" in result.output
