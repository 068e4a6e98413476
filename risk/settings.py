"""Risk and policy settings: sections the agent's settings embed, every field documented."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.base import ActionName
from risk.model import Component


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Weights(_Section):
    """Relative weight of each component in the combiner's weighted mean."""

    blast_radius: float = Field(default=0.35, ge=0)
    """Weight of how much serving capacity the action disrupts at once."""
    reversibility: float = Field(default=0.25, ge=0)
    """Weight of how hard the action is to take back."""
    state_validity: float = Field(default=0.25, ge=0)
    """Weight of whether the action's preconditions hold now."""
    operational_pressure: float = Field(default=0.15, ge=0)
    """Weight of how unstable the surroundings are."""

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        if sum(self.as_mapping().values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return self

    def as_mapping(self) -> dict[Component, float]:
        """Weights keyed by component."""
        return {c: float(getattr(self, c.value)) for c in Component}


class RiskSettings(_Section):
    """How components are scored and combined into one number."""

    weights: Weights = Field(default_factory=Weights)
    """Weights of the weighted mean."""
    peak_factor: float = Field(default=0.9, ge=0, le=1)
    """The total is at least this times the largest component: one alarming part is never averaged away."""
    max_fact_age_seconds: float = Field(default=60.0, gt=0)
    """Facts older than this make state validity rise: re-probe before acting."""
    recent_change_seconds: float = Field(default=900.0, ge=0)
    """A change to the target within this long counts as operational pressure."""
    business_hours_utc: tuple[int, int] = (7, 19)
    """[start, end) hours in UTC when people are around; outside them is off-hours."""
    business_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Weekdays (Monday is 0) that count as business days."""
    off_hours_pressure: float = Field(default=0.15, ge=0, le=1)
    """Operational pressure added outside business hours."""


class Thresholds(_Section):
    """Score bands for one namespace or action; None keeps the default."""

    execute_max: float | None = Field(default=None, ge=0, le=1)
    """Auto-execute at or below this score."""
    deny_min: float | None = Field(default=None, ge=0, le=1)
    """Deny above this score."""


class FreezeWindow(_Section):
    """A time when automatic changes stop. All given conditions must hold at once."""

    name: str = "freeze"
    """Shown in the decision's rules."""
    start: datetime | None = None
    """Start (UTC, inclusive) of an explicit window."""
    end: datetime | None = None
    """End (UTC, exclusive) of an explicit window."""
    weekdays: tuple[int, ...] | None = None
    """Recurring: the weekdays (Monday is 0) the window covers."""
    hours: tuple[int, int] | None = None
    """Recurring: [start, end) hours in UTC; start > end wraps past midnight."""
    namespaces: tuple[str, ...] | None = None
    """Only these namespaces (None: all)."""
    allow_approval: bool = False
    """True: a human may still approve during the window; False: deny outright."""

    def active(self, now: datetime, namespace: str | None) -> bool:
        """Whether the window covers `now` for `namespace`."""
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        if self.start is not None and now < self.start:
            return False
        if self.end is not None and now >= self.end:
            return False
        if self.weekdays is not None and now.weekday() not in self.weekdays:
            return False
        if self.hours is not None:
            lo, hi = self.hours
            inside = lo <= now.hour < hi if lo <= hi else (now.hour >= lo or now.hour < hi)
            if not inside:
                return False
        return True


class Budgets(_Section):
    """How many actions the agent may take in an hour; reaching one denies further actions."""

    per_target_per_hour: int = Field(default=2, ge=0)
    """Actions on one object."""
    per_namespace_per_hour: int = Field(default=10, ge=0)
    """Actions in one namespace."""
    total_per_hour: int = Field(default=30, ge=0)
    """Actions across the cluster."""


class PolicySettings(_Section):
    """Thresholds and vetoes that turn a score into execute, approve or deny."""

    execute_max: float = Field(default=0.3, ge=0, le=1)
    """Auto-execute at or below this score."""
    deny_min: float = Field(default=0.8, ge=0, le=1)
    """Deny above this score; between the two a human is asked."""
    namespaces: dict[str, Thresholds] = Field(default_factory=dict)
    """Per-namespace thresholds. With an action override too, the stricter bound wins."""
    actions: dict[ActionName, Thresholds] = Field(default_factory=dict)
    """Per-action thresholds."""
    protected_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
    """Namespaces the agent never touches, whatever the score."""
    agent_namespace: str = "scutum"
    """The agent's own namespace, always protected."""
    managed_namespaces: tuple[str, ...] = ()
    """When set, the only namespaces the agent may act in (cluster-scoped targets such as Nodes
    are not namespaced and stay allowed). Empty: every namespace not protected."""
    budgets: Budgets = Field(default_factory=Budgets)
    """Action budgets per target, namespace and cluster."""
    cooldown_seconds: float = Field(default=900.0, ge=0)
    """After acting on a target, further automatic actions on it are denied this long."""
    freeze_windows: tuple[FreezeWindow, ...] = ()
    """Times when nothing is executed automatically."""
    shadow: bool = False
    """Decide and record, never act."""

    @model_validator(mode="after")
    def _ordered(self) -> PolicySettings:
        if self.execute_max > self.deny_min:
            raise ValueError("execute_max must not exceed deny_min")
        return self

    @property
    def protected(self) -> frozenset[str]:
        """Every protected namespace, the agent's own included."""
        return frozenset((*self.protected_namespaces, self.agent_namespace))
