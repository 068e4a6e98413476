"""The contract every action fulfils: typed params, a static profile, the permissions it
needs, preconditions, execute (server-side dry run first), verify and inverse.

Nothing here talks to a cluster; `ActionContext` carries the adapter an action uses.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from actions.kube import Kube
from actions.owners import OwnerPolicies

if TYPE_CHECKING:
    from actions.facts import Facts

Obj = dict[str, Any]

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""A namespace, Service or container name: lower-case alphanumerics and '-', at most 63."""
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""Most object names: DNS-1123 labels joined by '.', at most 253 characters."""


class ActionName(StrEnum):
    """The closed set of things Scutum can ever do to a cluster."""

    RESTART_WORKLOAD = "restart_workload"
    SCALE_WORKLOAD = "scale_workload"
    ROLLBACK_WORKLOAD = "rollback_workload"
    RESTORE_CONFIGMAP = "restore_configmap"
    RESTORE_SERVICE = "restore_service"
    SET_RESOURCES = "set_resources"
    EVICT_POD = "evict_pod"
    DRAIN_NODE = "drain_node"
    SUSPEND_CRONJOB = "suspend_cronjob"


class Reversibility(StrEnum):
    """How cleanly an action's effect can be taken back."""

    NONE_NEEDED = "none_needed"
    """Nothing to undo: the action only makes controllers converge again (restart)."""
    REVERSIBLE = "reversible"
    """A typed inverse restores the previous state exactly (scale, cordon, suspend)."""
    PARTIALLY_REVERSIBLE = "partially_reversible"
    """An inverse exists but something is lost on the way (pods replaced, caches dropped)."""
    IRREVERSIBLE = "irreversible"
    """No inverse: what is lost stays lost (eviction of a pod with local data)."""


class Scope(StrEnum):
    """How much of the cluster one run of the action touches."""

    POD = "pod"
    WORKLOAD = "workload"
    NAMESPACE = "namespace"
    NODE = "node"


class WorkloadKind(StrEnum):
    """The controllers whose pod template the workload actions change."""

    DEPLOYMENT = "Deployment"
    STATEFULSET = "StatefulSet"
    DAEMONSET = "DaemonSet"


@dataclass(frozen=True)
class Permission:
    """One RBAC rule an action needs: API group, resource (with '/subresource'), verbs."""

    group: str
    resource: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """The static facts about an action that the risk model starts from."""

    reversibility: Reversibility
    scope: Scope


class Disruption(StrEnum):
    """How an action disrupts serving capacity: what the blast-radius scorer measures."""

    NODE_DRAIN = "node_drain"
    """Cordons a node, and with evictions moves every pod on it."""
    POD_EVICTION = "pod_eviction"
    """Takes one replica away until its controller recreates it."""
    REPLICA_CHANGE = "replica_change"
    """Adds or removes replicas."""
    ROLLING_REPLACEMENT = "rolling_replacement"
    """Replaces a workload's pods a share at a time (a new pod template)."""
    CONSUMER_RESTART = "consumer_restart"
    """Rolls every workload that consumes the target."""
    TRAFFIC_REROUTE = "traffic_reroute"
    """Changes where the target's traffic goes."""
    SCHEDULE_ONLY = "schedule_only"
    """Touches no running pod (a CronJob's schedule)."""


@dataclass(frozen=True)
class RiskHints:
    """What the risk scorers need to know about one invocation, declared by its action (never
    guessed from attribute names elsewhere)."""

    disruption: Disruption
    verb: str
    """How the blast-radius reason names the effect ("restarts", "replaces", ...)."""
    evicts_pods: bool = False
    """The invocation evicts pods (a drain with evictions): local data and bare pods matter."""
    target_replicas: int | None = None
    """The replica count it sets (scale)."""
    to_revision: int | None = None
    """The exact revision it restores (a rollback's inverse)."""
    undoes_recent_change: bool = False
    """It is the remedy for a recent change (rollback): a fresh change or a rollout in flight is
    its premise, not extra risk."""
    respects_pdb: bool = True
    """A PodDisruptionBudget with no headroom blocks or slows it."""
    reversibility: Reversibility | None = None
    """Overrides the profile's class for this invocation (a cordon without evictions is reversible)."""
    reads_hpa: bool = False
    """An HPA owning the replica count matters to it: the probes read it (scale, set_resources)."""
    reads_events: bool = False
    """Events about the workload's troubled pods (FailedScheduling, BackOff, OOMKilling) matter to
    it: the probes read them (scale, set_resources, restart)."""
    restarts_as_is: bool = False
    """It replaces the pods with the same template and resources (restart): what crashed or
    OOM-killed them is still there, which state validity weighs."""


@dataclass(frozen=True)
class TargetRef:
    """The one object an action is aimed at."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


class ActionParams(BaseModel):
    """Base of every action's params: frozen, strict, no unknown fields."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid", use_attribute_docstrings=True)


class NamespacedParams(ActionParams):
    """Params of an action aimed at one namespaced object."""

    namespace: str = Field(pattern=DNS1123_LABEL, max_length=63)
    """Namespace of the target."""
    name: str = Field(pattern=DNS1123_SUBDOMAIN, max_length=253)
    """Name of the target object."""


@dataclass(frozen=True)
class Precondition:
    """A fact that must hold before acting, as the action itself read it."""

    name: str
    holds: bool
    detail: str


@dataclass(frozen=True)
class Invocation:
    """A typed request to run an action: what an inverse, a planner or an undo produces."""

    action: ActionName
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What `execute` did. `before` keeps what the inverse needs to put back."""

    changed: bool
    detail: str
    before: Obj = field(default_factory=dict)
    after: Obj = field(default_factory=dict)
    api_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    """Whether the action took effect. `settled=False` means ask again later."""

    ok: bool
    settled: bool
    detail: str


class SnapshotSource(Protocol):
    """Last-known-good history kept by the agent (the snapshot keeper), read by actions."""

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> Obj | None:
        """The newest recorded version of the object taken strictly before `before`, or None."""
        ...


class NoSnapshots:
    """A snapshot source with no history, for tools that run without a store."""

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> Obj | None:
        return None


@dataclass(frozen=True)
class ActionLimits:
    """Bounds the operator sets on what one action may change."""

    max_scale_replicas: int = 50
    """No scale_workload goes above this many replicas."""
    resource_factor_up: float = 2.0
    """set_resources may at most multiply a request or limit by this."""
    resource_factor_down: float = 0.5
    """set_resources may at most multiply a request or limit down to this."""
    drain_timeout_seconds: float = 120.0
    """drain_node gives up (leaving the node cordoned) after this long."""
    max_drain_evictions: int = 30
    """drain_node refuses a node from which it would evict more pods than this."""
    max_unschedulable_fraction: float = 0.5
    """drain_node refuses when, after cordoning, more than this share of the nodes would be cordoned."""
    protected_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
    """Pods in these namespaces are never evicted, not even by a drain (the policy's protected set)."""
    owner_policies: OwnerPolicies = field(default_factory=OwnerPolicies)
    """What to do with an object GitOps, Helm or an operator manages (see actions.owners)."""


@dataclass(frozen=True)
class ActionContext:
    """What an action may use: the cluster adapter, the snapshot history, a clock, limits."""

    kube: Kube
    clock: Callable[[], datetime]
    snapshots: SnapshotSource = field(default_factory=NoSnapshots)
    limits: ActionLimits = field(default_factory=ActionLimits)
    field_manager: str = "scutum"
    sleep: Callable[[float], None] = field(default=time.sleep)
    """How an action waits between polls (drain_node); tests pass one that advances a fake clock."""


class ActionRefused(Exception):
    """The action will not run: a precondition fails or the request makes no sense here."""

    def __init__(self, action: ActionName, reason: str) -> None:
        super().__init__(f"{action}: {reason}")
        self.action = action
        self.reason = reason


P = TypeVar("P", bound=ActionParams)


class Action(ABC, Generic[P]):
    """One remediation: subclasses set the class attributes and implement the methods."""

    name: ClassVar[ActionName]
    summary: ClassVar[str]
    params_model: ClassVar[type[ActionParams]]
    profile: ClassVar[Profile]
    permissions: ClassVar[tuple[Permission, ...]]

    def parse(self, data: Mapping[str, Any]) -> P:
        """Validate raw params (from JSON, YAML or a planner) into this action's model."""
        return self.params_model.model_validate_json(json.dumps(dict(data), default=str))  # type: ignore[return-value]

    @abstractmethod
    def target(self, params: P) -> TargetRef:
        """The object this invocation acts on."""

    owner_may_revert: ClassVar[bool] = True
    """The action changes the object's desired state, so an owner that re-applies it (Argo CD,
    Flux, Helm, an operator) may revert it: the operator's per-owner policy applies."""

    def owner_suggestion(self, facts: Facts, params: P) -> str:
        """The change to make at the owner's source instead, for an escalation."""
        return f"make the change ({self.summary.rstrip('.').lower()}) in the owner's source"

    may_create_target: ClassVar[bool] = False
    """True when a missing target is what the action repairs (restore_service re-creates it)."""

    @abstractmethod
    def preconditions(self, facts: Facts, params: P, limits: ActionLimits) -> list[Precondition]:
        """What must hold right now for the action to make sense: a pure judgement of probed facts
        and the operator's limits. Risk, `scutum plan` and the executor all call this one function."""

    def known_good_cutoff(self, params: P) -> datetime | None:
        """The moment "known good" is judged against (history actions), or None: the probes read
        history up to this same instant, so the score and the action mean the same version."""
        return None

    @abstractmethod
    def execute(self, ctx: ActionContext, params: P) -> Outcome:
        """Dry-run on the server, then act. Running it twice leaves the same state."""

    @abstractmethod
    def verify(self, ctx: ActionContext, params: P, outcome: Outcome) -> Verification:
        """Did it take effect (rollout complete, node cordoned, ...)?"""

    @abstractmethod
    def inverse(self, params: P, outcome: Outcome) -> Invocation | None:
        """The typed action that undoes this one, or None when nothing can or need be undone."""

    @abstractmethod
    def risk_hints(self, params: P) -> RiskHints:
        """What the risk scorers need to know about this invocation."""
