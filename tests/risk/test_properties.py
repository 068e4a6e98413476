"""Properties of the score and the policy over generated facts, claims and settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from risk.assess import assess, score
from risk.combiner import combine
from risk.facts import Facts, HpaFacts, PdbFacts, Tier
from risk.model import Component, ComponentScore, Proposal, RiskScore, Verdict
from risk.policy import decide
from risk.settings import PolicySettings, RiskSettings, Weights
from tests.risk.builders import NOW, base_facts, node, pod, revisions, workload
from tests.risk.situations import situations

PROPOSALS = [s.proposal for s in situations()]
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
small = st.integers(min_value=0, max_value=60)


@st.composite
def facts_for(draw: st.DrawFn, proposal: Proposal) -> Facts:
    """Arbitrary but well-formed facts for the proposal's target."""
    times = st.lists(st.integers(min_value=0, max_value=3599), max_size=6).map(
        lambda secs: tuple(NOW - timedelta(seconds=s) for s in secs)
    )
    on_target = draw(times)
    base = base_facts(
        proposal.target.kind,
        exists=draw(st.booleans()),
        owner_kind=draw(st.sampled_from([None, "ReplicaSet"])),
        tier=draw(st.sampled_from(list(Tier))),
        firing=draw(st.sampled_from([True, False, None])),
        incidents=draw(small),
        on_target=on_target,
        in_namespace=on_target + draw(times),
        at=NOW - timedelta(seconds=draw(st.integers(min_value=0, max_value=600))),
    )
    ready = draw(small)
    return replace(
        base,
        workload=workload(ready, desired=draw(small), updated=draw(small), generation=draw(st.integers(1, 5))),
        pdb=draw(st.none() | st.builds(PdbFacts, st.just(NOW), small, st.none() | st.integers(0, 3))),
        pod=pod(empty_dir=draw(st.booleans())) if proposal.target.kind == "Pod" else None,
        node=node(draw(small), draw(small), local=draw(small), unowned=draw(small))
        if proposal.target.kind == "Node"
        else None,
        revisions=revisions(
            tuple(str(i) for i in range(draw(st.integers(0, 3)))),
            snapshot=draw(st.booleans()),
            current_predates=draw(st.booleans()),
        ),
        hpa=draw(st.none() | st.just(HpaFacts(NOW, "web", 2, 8, 3))),
    )


@st.composite
def scenario(draw: st.DrawFn) -> tuple[Proposal, Facts]:
    """A proposal from the table and generated facts for it."""
    proposal = draw(st.sampled_from(PROPOSALS))
    return proposal, draw(facts_for(proposal))


claims = st.dictionaries(
    st.sampled_from(
        ["ready_replicas", "desired_replicas", "alert_firing", "target_exists", "healthy_revision", "node_ready", "x"]
    ),
    st.one_of(st.integers(0, 10), st.booleans(), st.text(max_size=3)),
    max_size=4,
)
positive = st.floats(min_value=0.01, max_value=1.0)
weights = st.builds(Weights, blast_radius=positive, reversibility=unit, state_validity=unit, operational_pressure=unit)
risk_settings = st.builds(RiskSettings, weights=weights, peak_factor=unit)


def _components(values: list[float]) -> dict[Component, ComponentScore]:
    return {c: ComponentScore(v) for c, v in zip(Component, values, strict=True)}


@given(scenario(), claims)
@settings(max_examples=150, deadline=None)
def test_every_component_and_the_total_stay_in_unit_interval(sc: tuple[Proposal, Facts], said: Any) -> None:
    proposal, facts = sc
    risk = score(replace(proposal, claims=said), facts, RiskSettings(), now=NOW)
    assert 0.0 <= risk.total <= 1.0
    assert all(0.0 <= c.score <= 1.0 for c in risk.components.values())
    assert set(risk.components) == set(Component)


@given(st.lists(unit, min_size=4, max_size=4), st.integers(0, 3), unit, risk_settings)
def test_total_never_falls_when_a_component_rises(
    values: list[float], which: int, raised: float, config: RiskSettings
) -> None:
    higher = list(values)
    higher[which] = max(values[which], raised)
    low = combine(_components(values), config).total
    high = combine(_components(higher), config).total
    assert 0.0 <= low <= high <= 1.0


@given(scenario(), claims)
@settings(max_examples=150, deadline=None)
def test_planner_claims_never_lower_a_score(sc: tuple[Proposal, Facts], said: Any) -> None:
    proposal, facts = sc
    silent = score(replace(proposal, claims={}), facts, RiskSettings(), now=NOW)
    claimed = score(replace(proposal, claims=said), facts, RiskSettings(), now=NOW)
    assert claimed.total >= silent.total
    for c in Component:
        assert claimed.components[c].score >= silent.components[c].score


@given(scenario(), claims)
@settings(max_examples=100, deadline=None)
def test_same_inputs_give_the_same_result(sc: tuple[Proposal, Facts], said: Any) -> None:
    proposal, facts = sc
    p = replace(proposal, claims=said)
    assert assess(p, facts, RiskSettings(), PolicySettings(), now=NOW) == assess(
        p, facts, RiskSettings(), PolicySettings(), now=NOW
    )


@given(scenario(), unit, st.sampled_from(["kill", "protected", "budget", "cooldown"]))
@settings(max_examples=150, deadline=None)
def test_vetoes_dominate_any_score(sc: tuple[Proposal, Facts], total: float, veto: str) -> None:
    proposal, facts = sc
    policy = PolicySettings()
    if veto == "kill":
        facts = replace(facts, environment=replace(facts.environment, kill_switch=True))
    elif veto == "protected":
        policy = PolicySettings(protected_namespaces=(proposal.target.namespace or "",), agent_namespace="agent")
        if proposal.target.namespace is None:
            facts = replace(facts, environment=replace(facts.environment, kill_switch=True))
    elif veto == "budget":
        policy = PolicySettings(budgets={"total_per_hour": 1})
        facts = replace(facts, activity=replace(facts.activity, overall=(NOW - timedelta(minutes=1),)))
    else:
        facts = replace(facts, activity=replace(facts.activity, on_target=(NOW - timedelta(minutes=1),)))
    risk = RiskScore(total=total, components=_components([total] * 4))
    decision = decide(proposal, facts, risk, policy, now=NOW)
    assert decision.verdict is Verdict.DENY
    assert any(r.startswith("veto:") for r in decision.rules)
