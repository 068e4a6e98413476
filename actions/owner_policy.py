"""The per-owner policy as a precondition every action that changes desired state shares.

`escalate` is a failed precondition (a veto) whose reason carries the change to make at the
owner's source instead (for a rollback: the images of the revision to revert to in Git);
`act` and `pause-then-act` hold, and their detail, recorded with the decision, says that the
owner may revert the change or that its automated sync is paused first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actions.base import Action, ActionLimits, ActionParams, Precondition
from actions.facts import Facts
from actions.owners import ManagedBy, OwnerKind, OwnerPolicy, owner_location

Obj = dict[str, Any]

PRECONDITION = "owner_policy"
"""The name the owner check carries in judgements and decompositions."""


def template_images(template: Obj) -> tuple[str, ...]:
    """The images of a pod template's containers, in order."""
    containers = (template.get("spec") or {}).get("containers") or []
    return tuple(str(c.get("image", "")) for c in containers if isinstance(c, dict))


def pause_phrase(owner: ManagedBy, seconds: float) -> str:
    """What `pause-then-act` does to this owner, in words."""
    what = "turns off automated sync of" if owner.kind is OwnerKind.ARGOCD else "suspends"
    return f"{what} {owner.describe()} for the incident first (restored on Undo or after {seconds:.0f} s)"


def owner_preconditions(
    action: Action[Any], facts: Facts, params: ActionParams, limits: ActionLimits
) -> Sequence[Precondition]:
    """The owner check for this invocation: none when no owner manages the target or the action's
    effect is not one an owner re-applies (a restart, an eviction)."""
    owner = facts.target.owner
    if owner is None or not action.owner_may_revert:
        return ()
    policies = limits.owner_policies
    policy = policies.for_owner(owner.kind)
    managed = f"{owner.describe()} manages it ({owner.source})"
    if policy is OwnerPolicy.ACT:
        return (Precondition(PRECONDITION, True, f"{managed}; policy act: the owner may revert this change"),)
    if policy is OwnerPolicy.PAUSE_THEN_ACT and owner_location(owner, policies) is None:
        detail = f"{managed}; policy pause-then-act, but its metadata does not say where the owner object lives"
        return (Precondition(PRECONDITION, False, detail),)
    if policy is OwnerPolicy.PAUSE_THEN_ACT:
        return (
            Precondition(
                PRECONDITION, True, f"{managed}; policy pause-then-act: {pause_phrase(owner, policies.pause_seconds)}"
            ),
        )
    suggestion = action.owner_suggestion(facts, params)
    return (Precondition(PRECONDITION, False, f"{managed}; policy escalate: {suggestion}"),)


def revert_suggestion(facts: Facts, *, number: int | None, digest: str) -> str:
    """For a rollback: the revision and images to set again in Git (or the chart's values)."""
    rev = facts.revisions
    entries = rev.history if rev is not None else ()
    entry = next((e for e in entries if e.digest == digest and (number is None or e.number == number)), None)
    which = f"revision {number}" if number is not None else "the last known-good template"
    if entry is None or not entry.images:
        return f"revert the workload in the owner's source to {which} (digest {digest})"
    images = ", ".join(entry.images)
    return f"revert the image in the owner's source (Git) to {images}, as in {which}"
