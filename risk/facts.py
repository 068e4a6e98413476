"""The facts the probes gather, as the risk layer names them (defined in `actions.facts`, so the
actions' preconditions judge the very same objects the scorers read)."""

from actions.facts import (
    TIER_LABEL,
    ActivityFacts,
    ConsumerFacts,
    ContainerFacts,
    EnvironmentFacts,
    EventFacts,
    EventFinding,
    EventReason,
    Facts,
    HpaFacts,
    NodeFacts,
    PdbFacts,
    PodFacts,
    RevisionEntry,
    RevisionFacts,
    TargetFacts,
    Tier,
    WorkloadFacts,
)
from actions.premise import PremiseFacts

__all__ = [
    "TIER_LABEL",
    "ActivityFacts",
    "ConsumerFacts",
    "ContainerFacts",
    "EnvironmentFacts",
    "EventFacts",
    "EventFinding",
    "EventReason",
    "Facts",
    "HpaFacts",
    "NodeFacts",
    "PdbFacts",
    "PodFacts",
    "PremiseFacts",
    "RevisionEntry",
    "RevisionFacts",
    "TargetFacts",
    "Tier",
    "WorkloadFacts",
]
