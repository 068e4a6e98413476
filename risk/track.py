"""How each past decision ended: the outcome label the calibration, coverage and audit reports
aggregate.

A decision is what the pipeline made of one incident: a verdict (execute, approve, deny,
escalate) on a proposal, or an escalation with no proposal. Its `Ending` is derived, after the
fact, from what the store recorded: the human call on its approval request, the execution and
its verification, a later Undo, a later change to the same object by someone else, and whether
the alert went away by itself. `ending_of` is that derivation; it is pure so that the rules
are tested here and the store only supplies the facts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

_EXECUTE_MAX = re.compile(r"execute_max (\d+(?:\.\d+)?)")
"""How the policy (risk.policy) names the execute threshold in the rule it writes."""
AUDITOR_PREFIX = "planner claim"
"""How the auditor (risk.auditor) starts every finding it adds to state validity's reasons."""


class Ending(StrEnum):
    """How a decision ended, as far as the store can tell."""

    VERIFIED = "verified"
    """Executed, and verification saw the intended effect; nobody reverted it within the window."""
    FAILED = "failed"
    """Executed, and the run or its verification failed."""
    UNDONE = "undone"
    """Executed and verified, then reverted by Scutum's own Undo at a person's request."""
    OVERRIDDEN = "overridden"
    """Executed and verified, then the same object was changed by someone else within the window."""
    REVERTED_BY_OWNER = "reverted-by-owner"
    """Executed and verified, then the target's owner (GitOps, Helm, an operator) put it back
    within the owner watch's window: the fix did not hold."""
    NOT_RUN = "not_run"
    """Cleared to run, but stopped before acting (re-validation, kill switch, superseded)."""
    REJECTED = "rejected"
    """A person rejected the approval request; nothing ran."""
    EXPIRED = "expired"
    """Nobody decided before the deadline; nothing ran."""
    DENIED = "denied"
    """The policy refused (a veto or a score past deny_min); nothing ran."""
    ESCALATED = "escalated"
    """No action in the registry fit; a person was told; nothing ran."""
    SHADOW = "shadow"
    """Shadow mode: recorded what would have been done; nothing ran."""
    SELF_RESOLVED = "self_resolved"
    """Nothing ran, and the alert resolved by itself within the window: waiting would have worked."""
    OPEN = "open"
    """Not known yet: awaiting a decision, or the action is still running."""


BAD_ENDINGS: frozenset[Ending] = frozenset({Ending.FAILED, Ending.UNDONE, Ending.OVERRIDDEN, Ending.REVERTED_BY_OWNER})
"""Endings that count as a bad outcome of an executed action."""
EXECUTED_ENDINGS: frozenset[Ending] = frozenset({Ending.VERIFIED, *BAD_ENDINGS})
"""Endings of actions that actually ran: the population calibration is measured on."""


class Call(StrEnum):
    """What people decided on an approval request."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PENDING = "pending"


class RunEnd(StrEnum):
    """How an execution ended, in the store's terms."""

    SUCCEEDED = "succeeded"
    """Ran and was verified."""
    FAILED = "failed"
    REFUSED = "refused"
    """Claimed, then stopped before acting."""
    UNFINISHED = "unfinished"


@dataclass(frozen=True)
class HumanCall:
    """The human side of one approval: the call, who made it, and how long it took."""

    call: Call
    by: tuple[str, ...] = ()
    """Approvers (or rejecters) in the order they voted; empty when it expired."""
    seconds: float | None = None
    """From the request to the deciding vote (to the deadline when it expired)."""


@dataclass(frozen=True)
class PastDecision:
    """One decision with everything the reports need, as plain data."""

    at: datetime
    incident_id: str
    alert_name: str
    verdict: str
    """execute, approve, deny or escalate (the pipeline's outcome)."""
    ending: Ending
    namespace: str | None = None
    action: str | None = None
    """The proposed action; None for an escalation with no proposal."""
    planner: str = ""
    risk: float | None = None
    components: Mapping[str, float] = field(default_factory=dict)
    shadow: bool = False
    execute_max: float | None = None
    """The execute threshold in force for this proposal when it was decided, when known."""
    human: HumanCall | None = None
    escalation_reason: str = ""
    claims_made: int = 0
    """How many claims the planner made about the world."""
    claims_disputed: int = 0
    """How many findings the independent auditor raised against those claims."""
    resolved_after_seconds: float | None = None
    """From the incident's start to its alert resolving, when it did."""
    people_acted: bool | None = None
    """Shadow mode only: someone changed the proposed target within the window after the decision
    (what people did where Scutum would have acted); None when not in shadow mode."""

    @property
    def executed(self) -> bool:
        """The action actually ran (verified, failed, undone, overridden or reverted by its owner)."""
        return self.ending in EXECUTED_ENDINGS

    @property
    def bad(self) -> bool:
        """The action ran and ended badly (failed, undone, overridden or reverted by its owner)."""
        return self.ending in BAD_ENDINGS


def ending_of(
    *,
    verdict: str,
    shadow: bool,
    human: HumanCall | None,
    run: RunEnd | None,
    undone: bool,
    overridden: bool,
    resolved_after_seconds: float | None,
    self_resolve_seconds: float,
    reverted_by_owner: bool = False,
) -> Ending:
    """The ending of one decision from the facts the store holds.

    A run decides first (its result, then an Undo, then its owner reverting it, then someone
    else's change: the owner's revert is also a change by someone else, the more specific
    label wins). Without a run,
    an alert that resolved within `self_resolve_seconds` is SELF_RESOLVED whatever the reason
    nothing ran (the counterfactual "would waiting have worked?"); otherwise the reason nothing
    ran is the ending.
    """
    if run is not None:
        match run:
            case RunEnd.SUCCEEDED:
                return _held(undone=undone, reverted_by_owner=reverted_by_owner, overridden=overridden)
            case RunEnd.FAILED:
                return Ending.FAILED
            case RunEnd.UNFINISHED:
                return Ending.OPEN
            case RunEnd.REFUSED:
                pass
    if human is not None and human.call is Call.PENDING:
        return Ending.OPEN
    if resolved_after_seconds is not None and resolved_after_seconds <= self_resolve_seconds:
        return Ending.SELF_RESOLVED
    return _idle_ending(verdict=verdict, shadow=shadow, human=human, refused=run is RunEnd.REFUSED)


def _held(*, undone: bool, reverted_by_owner: bool, overridden: bool) -> Ending:
    """How a verified run ended afterwards: Undo, then its owner's revert, then anyone's change."""
    if undone:
        return Ending.UNDONE
    if reverted_by_owner:
        return Ending.REVERTED_BY_OWNER
    return Ending.OVERRIDDEN if overridden else Ending.VERIFIED


_BY_CALL = {Call.REJECTED: Ending.REJECTED, Call.EXPIRED: Ending.EXPIRED}
_BY_VERDICT = {"deny": Ending.DENIED, "escalate": Ending.ESCALATED}


def _idle_ending(*, verdict: str, shadow: bool, human: HumanCall | None, refused: bool) -> Ending:
    """Why nothing ran, in order: refused at the last moment, shadow mode, a person, the policy."""
    if refused:
        return Ending.NOT_RUN
    if shadow:
        return Ending.SHADOW
    if human is not None and human.call in _BY_CALL:
        return _BY_CALL[human.call]
    if verdict in _BY_VERDICT:
        return _BY_VERDICT[verdict]
    cleared = verdict == "execute" or (human is not None and human.call is Call.APPROVED)
    return Ending.OPEN if cleared else Ending.ESCALATED  # cleared: no execution recorded yet


def auditor_findings(reasons: tuple[str, ...] | list[str]) -> int:
    """How many of state validity's reasons are the auditor's findings against planner claims."""
    return sum(1 for reason in reasons if reason.startswith(AUDITOR_PREFIX))


def parse_execute_max(rules: tuple[str, ...] | list[str]) -> float | None:
    """The execute threshold the policy compared the score with, read from its own rule text."""
    for rule in rules:
        found = _EXECUTE_MAX.search(rule)
        if found:
            return float(found.group(1))
    return None
