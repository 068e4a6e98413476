"""The per-owner policy is a precondition: escalate vetoes with a suggestion, act records the risk."""

from __future__ import annotations

from dataclasses import replace

from actions.base import ActionLimits
from actions.owners import ManagedBy, OwnerKind, OwnerPolicies, OwnerPolicy
from actions.preconditions import Judgement, judge
from actions.registry import get_action
from risk.assess import assess
from risk.facts import Facts
from risk.model import Component, Proposal, Verdict
from risk.settings import PolicySettings, RiskSettings
from tests.risk.builders import INCIDENT, NOW, proposal, restart, revisions, workload_facts

ARGO = ManagedBy(OwnerKind.ARGOCD, "shop-web", source="label argocd.argoproj.io/instance", resource_kind="Application")
HELM = ManagedBy(OwnerKind.HELM, "web", "shop", source="annotation meta.helm.sh/release-name")


def _rollback() -> Proposal:
    return proposal(
        "rollback_workload", {"namespace": "shop", "name": "web", "kind": "Deployment", "before": INCIDENT.isoformat()}
    )


def _owned(owner: ManagedBy | None) -> Facts:
    facts = workload_facts(3)
    rev = revisions(("8", "7"))
    history = tuple(
        replace(e, images=(f"registry.example/web:v{e.number}",)) if e.number == 8 else e for e in rev.history
    )
    return replace(facts, target=replace(facts.target, owner=owner), revisions=replace(rev, history=history))


def _judge(owner: ManagedBy | None, policies: OwnerPolicies | None = None) -> Judgement:
    p = _rollback()
    limits = ActionLimits(owner_policies=policies or OwnerPolicies())
    return judge(get_action(p.action), _owned(owner), p.params, limits)


def test_argocd_managed_rollback_escalates_with_the_image_to_revert_to() -> None:
    judgement = _judge(ARGO)
    assert not judgement.holds
    (failed,) = judgement.failed
    assert failed.name == "owner_policy"
    assert "Argo CD Application shop-web" in failed.detail
    assert "registry.example/web:v8" in failed.detail and "revision 8" in failed.detail


def test_helm_managed_rollback_acts_and_says_the_owner_may_revert() -> None:
    judgement = _judge(HELM)
    assert judgement.holds
    check = next(c for c in judgement.checks if c.name == "owner_policy")
    assert "policy act" in check.detail and "may revert" in check.detail


def test_pause_then_act_holds_for_argocd_and_names_the_pause() -> None:
    judgement = _judge(ARGO, OwnerPolicies(argocd=OwnerPolicy.PAUSE_THEN_ACT, pause_seconds=600))
    assert judgement.holds
    check = next(c for c in judgement.checks if c.name == "owner_policy")
    assert "turns off automated sync" in check.detail and "600 s" in check.detail


def test_no_owner_means_no_owner_check() -> None:
    assert all(c.name != "owner_policy" for c in _judge(None).checks)


def test_a_restart_is_not_something_an_owner_reverts() -> None:
    p = restart()
    facts = replace(workload_facts(3), target=replace(workload_facts(3).target, owner=ARGO))
    judgement = judge(get_action(p.action), facts, p.params, ActionLimits())
    assert all(c.name != "owner_policy" for c in judgement.checks)


def test_escalation_is_a_veto_and_the_owner_shows_in_the_decomposition() -> None:
    p = _rollback()
    risk, decision = assess(p, _owned(ARGO), RiskSettings(), PolicySettings(), now=NOW)
    assert decision.verdict is Verdict.DENY
    assert any("owner_policy" in r and "registry.example/web:v8" in r for r in decision.rules)
    reasons = risk.components[Component.REVERSIBILITY].reasons
    assert any("Argo CD Application shop-web manages the target" in r for r in reasons)
    validity = risk.components[Component.STATE_VALIDITY].reasons
    assert any("policy escalate" in r for r in validity)


def test_pause_then_act_fails_when_the_owner_object_cannot_be_located() -> None:
    flux = ManagedBy(OwnerKind.FLUX, "apps", None, source="label kustomize.toolkit.fluxcd.io/name")
    judgement = _judge(flux, OwnerPolicies(flux=OwnerPolicy.PAUSE_THEN_ACT))
    (failed,) = judgement.failed
    assert failed.name == "owner_policy" and "does not say where the owner object lives" in failed.detail
