"""Invariant 9, respect the owner, as a property over every registered action: an action whose
change an owner may revert runs on a managed target only under a policy that allows it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from actions.base import ActionLimits
from actions.owners import GITOPS, ManagedBy, OwnerKind, OwnerPolicies, OwnerPolicy
from actions.registry import get_action
from risk.assess import judge_proposal
from tests.risk.precondition_examples import Example, _examples

EXAMPLES = _examples()


@given(
    example=st.sampled_from(EXAMPLES),
    kind=st.sampled_from(list(OwnerKind)),
    policy=st.sampled_from(list(OwnerPolicy)),
)
def test_an_owned_target_is_acted_on_only_under_an_allowing_policy(
    example: Example, kind: OwnerKind, policy: OwnerPolicy
) -> None:
    p, facts = example.proposal, example.facts
    owner = ManagedBy(kind, "owner", "ns", source="test", resource_kind="Application")
    owned = replace(facts, target=replace(facts.target, owner=owner))
    overrides: dict[str, Any] = {kind.value: policy}
    limits = ActionLimits(owner_policies=OwnerPolicies(**overrides))
    checks = [c for c in judge_proposal(p, owned, limits).checks if c.name == "owner_policy"]
    if not get_action(p.action).owner_may_revert:
        assert checks == []
        return
    (check,) = checks
    effective = OwnerPolicy.ESCALATE if policy is OwnerPolicy.PAUSE_THEN_ACT and kind not in GITOPS else policy
    assert check.holds == (effective is not OwnerPolicy.ESCALATE)
    assert f"policy {effective.value}" in check.detail
    unowned = [c for c in judge_proposal(p, facts, limits).checks if c.name == "owner_policy"]
    assert unowned == []
