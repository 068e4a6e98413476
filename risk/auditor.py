"""The auditor: check the planner's claims against the probed facts.

A planner may state what it believes (``{"ready_replicas": 3, "healthy_revision": "4"}``).
Every claim is compared with what the probes read. A false claim, one the facts cannot
confirm, or a key outside the vocabulary yields a penalty; the penalty is non-negative
and is combined with state validity by `max`, so claims can raise the score, never lower it.

The vocabulary (`ClaimKey`) is the one place claim names are defined; planners and the
docs use these names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from risk.facts import Facts
from risk.model import ComponentScore


class ClaimKey(StrEnum):
    """What a planner may claim about the world, and the fact each claim is checked against."""

    TARGET_EXISTS = "target_exists"
    """bool: the target object exists."""
    READY_REPLICAS = "ready_replicas"
    """int: ready replicas of the workload (or of the evicted pod's owner)."""
    DESIRED_REPLICAS = "desired_replicas"
    """int: desired replicas of the workload."""
    UPDATED_REPLICAS = "updated_replicas"
    """int: replicas already on the newest template."""
    ROLLOUT_IN_FLIGHT = "rollout_in_flight"
    """bool: a rollout is under way."""
    HEALTHY_REVISION = "healthy_revision"
    """str or int: a revision created before the incident that the planner believes healthy."""
    ALERT_FIRING = "alert_firing"
    """bool: the incident's alert still fires."""
    NODE_READY = "node_ready"
    """bool: the node reports Ready."""
    NODE_POD_COUNT = "node_pod_count"
    """int: pods a drain would evict from the node."""
    POD_HAS_LOCAL_STORAGE = "pod_has_local_storage"
    """bool: the pod holds emptyDir or hostPath data."""
    PDB_DISRUPTIONS_ALLOWED = "pdb_disruptions_allowed"
    """int: the tightest disruptionsAllowed of the PDBs covering the affected pods."""
    HPA_PRESENT = "hpa_present"
    """bool: an HPA owns the workload's replica count (checked for scale and set_resources)."""


FALSE_CLAIM_PENALTY = 0.6
"""State validity for one false claim; each further false claim adds FALSE_CLAIM_STEP."""
FALSE_CLAIM_STEP = 0.1
UNVERIFIABLE_PENALTY = 0.2
"""State validity when a claim cannot be checked because the probes did not establish the fact."""
UNKNOWN_KEY_PENALTY = 0.3
"""State validity for a claim outside the vocabulary: the planner speaks of something unchecked."""

_UNKNOWN = object()


def _observe(facts: Facts, key: ClaimKey) -> object:
    w, n, p = facts.workload, facts.node, facts.pod
    readers: dict[ClaimKey, Callable[[], object]] = {
        ClaimKey.TARGET_EXISTS: lambda: facts.target.exists,
        ClaimKey.READY_REPLICAS: lambda: w.ready_replicas if w else _UNKNOWN,
        ClaimKey.DESIRED_REPLICAS: lambda: w.desired_replicas if w else _UNKNOWN,
        ClaimKey.UPDATED_REPLICAS: lambda: w.updated_replicas if w else _UNKNOWN,
        ClaimKey.ROLLOUT_IN_FLIGHT: lambda: w.rollout_in_flight if w else _UNKNOWN,
        ClaimKey.HEALTHY_REVISION: lambda: facts.revisions.revisions_before_incident if facts.revisions else _UNKNOWN,
        ClaimKey.ALERT_FIRING: lambda: (
            _UNKNOWN if facts.environment.alert_firing is None else facts.environment.alert_firing
        ),
        ClaimKey.NODE_READY: lambda: n.ready if n and n.ready is not None else _UNKNOWN,
        ClaimKey.NODE_POD_COUNT: lambda: n.pod_count if n else _UNKNOWN,
        ClaimKey.POD_HAS_LOCAL_STORAGE: lambda: p.has_local_storage if p else _UNKNOWN,
        ClaimKey.PDB_DISRUPTIONS_ALLOWED: lambda: (
            facts.pdb.min_disruptions_allowed
            if facts.pdb and facts.pdb.min_disruptions_allowed is not None
            else _UNKNOWN
        ),
        ClaimKey.HPA_PRESENT: lambda: _UNKNOWN if facts.workload is None else facts.hpa is not None,
    }
    return readers[key]()


def _holds(key: ClaimKey, claimed: Any, observed: object) -> bool:
    if key is ClaimKey.HEALTHY_REVISION:
        return isinstance(observed, tuple) and str(claimed) in observed
    if isinstance(observed, bool):
        return isinstance(claimed, bool) and claimed is observed
    if isinstance(observed, int):
        return not isinstance(claimed, bool) and isinstance(claimed, int) and claimed == observed
    return bool(claimed == observed)


@dataclass(frozen=True)
class Audit:
    """The auditor's verdict on the claims: a penalty (never negative) and what it found."""

    penalty: float
    reasons: tuple[str, ...] = ()
    false_claims: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.penalty <= 1.0:
            raise ValueError(f"an audit penalty lies in [0, 1], got {self.penalty}")

    def raise_score(self, base: ComponentScore) -> ComponentScore:
        """`base` raised by the penalty: max of the two, so the result is never below `base`."""
        if not self.reasons:
            return base
        return ComponentScore(max(base.score, self.penalty), (*base.reasons, *self.reasons))


def audit(claims: Mapping[str, Any], facts: Facts) -> Audit:
    """Check every claim against the facts."""
    false: list[str] = []
    reasons: list[str] = []
    penalty = 0.0
    for raw_key, claimed in sorted(claims.items()):
        try:
            key = ClaimKey(raw_key)
        except ValueError:
            reasons.append(f"planner claim {raw_key!r} is not in the vocabulary")
            penalty = max(penalty, UNKNOWN_KEY_PENALTY)
            continue
        observed = _observe(facts, key)
        if observed is _UNKNOWN:
            reasons.append(f"planner claim {key.value}={claimed!r} cannot be checked")
            penalty = max(penalty, UNVERIFIABLE_PENALTY)
        elif not _holds(key, claimed, observed):
            shown = (", ".join(observed) or "none") if isinstance(observed, tuple) else repr(observed)
            reasons.append(f"planner claimed {key.value}={claimed!r}, probes saw {shown}")
            false.append(key.value)
    if false:
        penalty = max(penalty, min(1.0, FALSE_CLAIM_PENALTY + FALSE_CLAIM_STEP * (len(false) - 1)))
    return Audit(penalty=penalty, reasons=tuple(reasons), false_claims=tuple(false))
