"""The executor pauses an Argo CD owner before a rollback (pause-then-act), records the pause, and
restores automated sync when the rollback's Undo runs."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from actions.kube import PatchType
from actions.owners import OwnerPolicy
from actions.registry import get_action, parse_invocation
from agent.app import Agent, build_agent
from agent.outcomes import outcome_from
from agent.settings import Settings, load_settings
from agent.store import ExecutionState
from risk.model import Proposal
from simcluster.clock import ManualClock
from simcluster.controllers.gitops import DESIRED
from simcluster.gitops_objects import application, install_gitops_crds
from simcluster.harness import RunningSim
from tests.actions import objects

NS = objects.NS
GOOD, BAD = "shop/web:1.0", "shop/web:broken"


def _settings(sim: RunningSim, data_dir: Path, policy: OwnerPolicy = OwnerPolicy.PAUSE_THEN_ACT) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "policy": base.policy.model_copy(update={"execute_max": 0.95, "deny_min": 0.99}),
            "owners": base.owners.model_copy(update={"argocd": policy}),
        }
    )


@pytest.fixture(params=[OwnerPolicy.PAUSE_THEN_ACT])
def agent(bare_sim: RunningSim, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Agent]:
    clock = bare_sim.cluster.clock
    assert isinstance(clock, ManualClock)
    built = build_agent(
        _settings(bare_sim, tmp_path, request.param), clock=clock.now, use_cache=False, sleep=bare_sim.cluster.tick,
        verify_timeout_seconds=5.0,
    )  # fmt: skip
    built.start(schedule=False)
    yield built
    built.stop()


def _image(agent: Agent) -> str:
    return str(agent.kube.get("Deployment", "web", NS)["spec"]["template"]["spec"]["containers"][0]["image"])


def _bad_rollout_from_git(sim: RunningSim, agent: Agent, *, heal_seconds: float = 5) -> str:
    store = sim.cluster.store
    install_gitops_crds(store)
    for ns in (NS, "argocd"):
        if store.try_get("Namespace", None, ns) is None:
            store.create("Namespace", {"metadata": {"name": ns}})
    store.create(
        "Application", application("shop-web", [objects.deployment("web", image=GOOD)], heal_seconds=heal_seconds)
    )
    for _ in range(30):
        sim.cluster.tick(2)
    sim.cluster.tick(3600)
    before = agent.clock().isoformat()
    sim.cluster.tick(1)
    push = {"metadata": {"annotations": {DESIRED: json.dumps([objects.deployment("web", image=BAD)])}}}
    agent.kube.patch("Application", "shop-web", push, "argocd", patch_type=PatchType.MERGE)
    for _ in range(30):
        sim.cluster.tick(2)
    assert _image(agent) == BAD
    return before


def _proposal(name: str, params: Mapping[str, object], agent: Agent) -> Proposal:
    action, parsed = parse_invocation(name, params)
    return Proposal(action.name, parsed, action.target(parsed), agent.clock(), requested_by="oncall")


def test_rollback_pauses_argocd_then_undo_restores_its_sync(bare_sim: RunningSim, agent: Agent) -> None:
    before = _bad_rollout_from_git(bare_sim, agent)
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "before": before}
    run_id = agent.executor.submit_new(_proposal("rollback_workload", params, agent), None, proposal_id=None)
    agent.executor.wait(timeout=60)
    run = agent.store.executions.get(run_id)
    assert run is not None and run.state is ExecutionState.SUCCEEDED, run
    assert run.outcome is not None and run.outcome["owner_pause"]["name"] == "shop-web"
    app = agent.kube.get("Application", "shop-web", "argocd")
    assert "automated" not in app["spec"]["syncPolicy"]
    for _ in range(30):
        bare_sim.cluster.tick(2)
    assert _image(agent) == GOOD, "the rollback holds while automated sync is off"

    bare_sim.cluster.tick(16 * 60)  # past the cooldown on the target
    action, parsed = parse_invocation(run.action, run.params)
    inverse = action.inverse(parsed, outcome_from(run.outcome))
    assert inverse is not None
    undo_id = agent.executor.submit_new(
        _proposal(inverse.action.value, dict(inverse.params), agent), None, proposal_id=None
    )
    agent.executor.wait(timeout=60)
    undo = agent.store.executions.get(undo_id)
    # The Undo puts the broken template back, so its rollout never settles; what matters is that it wrote.
    assert undo is not None and undo.outcome is not None and undo.outcome["changed"] is True, undo
    app = agent.kube.get("Application", "shop-web", "argocd")
    assert app["spec"]["syncPolicy"]["automated"] == {"selfHeal": True, "prune": True}
    steps = [r.payload.get("step") for r in agent.store.audit.records() if r.payload.get("step")]
    assert steps == ["owner_pause", "owner_resume"]
    assert get_action("rollback_workload").owner_may_revert


@pytest.mark.parametrize("agent", [OwnerPolicy.ACT], indirect=True)
def test_under_act_a_fix_the_owner_reverts_is_recorded_reverted_by_owner(bare_sim: RunningSim, agent: Agent) -> None:
    before = _bad_rollout_from_git(bare_sim, agent, heal_seconds=120)
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "before": before}
    run_id = agent.executor.submit_new(_proposal("rollback_workload", params, agent), None, proposal_id=None)
    agent.executor.wait(timeout=60)
    run = agent.store.executions.get(run_id)
    assert run is not None and run.state is ExecutionState.SUCCEEDED, run
    assert "owner_pause" not in (run.outcome or {})
    assert agent.watch_owners() == [], "the fix still holds right after verification"
    for _ in range(20):
        bare_sim.cluster.tick(10)
    assert _image(agent) == BAD, "self-heal re-applied Git's version"
    assert agent.watch_owners() == [run_id]
    assert agent.watch_owners() == [], "recorded once"
    found = [r.payload for r in agent.store.audit.records() if r.payload.get("outcome") == "reverted-by-owner"]
    assert len(found) == 1 and found[0]["execution"] == run_id
    assert found[0]["owner"] == "Argo CD Application shop-web"


@pytest.mark.parametrize("agent", [OwnerPolicy.ESCALATE], indirect=True)
def test_default_policy_escalates_with_the_image_to_revert_to_in_git(bare_sim: RunningSim, agent: Agent) -> None:
    _bad_rollout_from_git(bare_sim, agent)
    handled = []
    for _ in range(40):
        bare_sim.cluster.tick(15)
        handled += agent.poll_once()
    assert handled, "the stuck rollout should raise an incident"
    assert not agent.store.executions.recent(agent.clock().replace(year=2000)), "nothing may run"
    reasons = [str(r.payload.get("reason", "")) for r in agent.store.audit.records() if r.kind == "escalation"]
    assert any(
        "policy escalate" in r and f"revert the image in the owner's source (Git) to {GOOD}" in r for r in reasons
    )
    assert _image(agent) == BAD


def _rollback_reverted_by_self_heal(sim: RunningSim, agent: Agent, before: str) -> str:
    params = {"kind": "Deployment", "namespace": NS, "name": "web", "before": before}
    run_id = agent.executor.submit_new(_proposal("rollback_workload", params, agent), None, proposal_id=None)
    agent.executor.wait(timeout=60)
    run = agent.store.executions.get(run_id)
    assert run is not None and run.state is ExecutionState.SUCCEEDED, run
    assert _image(agent) == GOOD
    for _ in range(20):
        sim.cluster.tick(10)
    assert _image(agent) == BAD, "self-heal re-applied Git's version"
    return run_id


def _restarted(sim: RunningSim, agent: Agent, data_dir: Path) -> Agent:
    """A new process on the same store: nothing of the old one's memory survives."""
    agent.stop()
    clock = sim.cluster.clock
    assert isinstance(clock, ManualClock)
    again = build_agent(
        _settings(sim, data_dir, OwnerPolicy.ACT), clock=clock.now, use_cache=False, sleep=sim.cluster.tick,
        verify_timeout_seconds=5.0,
    )  # fmt: skip
    again.start(schedule=False)
    return again


@pytest.mark.parametrize("agent", [OwnerPolicy.ACT], indirect=True)
def test_a_restarted_watch_reports_each_revert_once_and_a_second_revert_again(
    bare_sim: RunningSim, agent: Agent, tmp_path: Path
) -> None:
    before = _bad_rollout_from_git(bare_sim, agent, heal_seconds=120)
    first = _rollback_reverted_by_self_heal(bare_sim, agent, before)
    assert agent.watch_owners() == [first]
    agent = _restarted(bare_sim, agent, tmp_path)
    try:
        assert agent.watch_owners() == [], "the restarted watch reads what was reported from the store"
        bare_sim.cluster.tick(16 * 60)  # past the cooldown on the target
        second = _rollback_reverted_by_self_heal(bare_sim, agent, before)
        assert agent.watch_owners() == [second], "the owner reverting a second fix is a second outcome"
        assert agent.watch_owners() == []
        agent = _restarted(bare_sim, agent, tmp_path)
        assert agent.watch_owners() == []
        found = [r.payload for r in agent.store.audit.records() if r.payload.get("outcome") == "reverted-by-owner"]
        assert [p["execution"] for p in found] == [first, second]
    finally:
        agent.stop()


@pytest.mark.parametrize("agent", [OwnerPolicy.ACT], indirect=True)
def test_a_reverted_fix_reaches_a_human_once(bare_sim: RunningSim, agent: Agent) -> None:
    before = _bad_rollout_from_git(bare_sim, agent, heal_seconds=120)
    run_id = _rollback_reverted_by_self_heal(bare_sim, agent, before)
    assert agent.owner_watch is not None
    notices: list[tuple[str, str]] = []
    watch = replace(agent.owner_watch, notify=lambda execution, text: notices.append((execution.id, text)))
    assert watch.check() == [run_id]
    assert watch.check() == []
    assert len(notices) == 1 and notices[0][0] == run_id
    assert "did not hold: Argo CD Application shop-web reverted it" in notices[0][1]
