"""What the risk probes saw: typed, frozen facts, each group stamped with the time it was read.

The probes (risk.probes) gather them once; the actions' preconditions judge them, and the
risk scorers read them. They live below both so an action can judge without reading.
Facts come from the cluster, the agent's own store and the alert source, never from the
planner. A group that does not apply to an action (node facts for a restart) is None;
a value the probes could not establish is None too, and the scorers treat unknown as
"not reassuring".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from actions.owners import ManagedBy
from actions.premise import PremiseFacts


class Tier(StrEnum):
    """How much a namespace matters, from its `scutum.dev/tier` label (default standard)."""

    CRITICAL = "critical"
    STANDARD = "standard"
    LOW = "low"


TIER_LABEL = "scutum.dev/tier"
"""The namespace label the tier is read from."""


@dataclass(frozen=True)
class TargetFacts:
    """The object the action is aimed at."""

    read_at: datetime
    exists: bool
    kind: str
    owner_kind: str | None = None
    """Kind of the controller owner (ReplicaSet, StatefulSet, Node for mirror pods ...), None if none."""
    created_at: datetime | None = None
    owner: ManagedBy | None = None
    """Who reconciles the object besides Scutum (GitOps, Helm, an operator), from its metadata."""


@dataclass(frozen=True)
class WorkloadFacts:
    """Replica and rollout state of the workload the action touches (or the pod's owner)."""

    read_at: datetime
    kind: str
    name: str
    desired_replicas: int
    ready_replicas: int
    updated_replicas: int
    generation: int
    observed_generation: int
    rollout_in_flight: bool
    last_change_at: datetime | None = None
    """When the pod template last changed (newest revision's creation), if known."""
    containers: tuple[ContainerFacts, ...] = ()
    """The pod template's containers and their current requests and limits."""
    ordered_rolling_update: bool = False
    """A StatefulSet with OrderedReady pod management and RollingUpdate: a pod that is not ready
    holds the rollout, so a new template never reaches it."""

    def container(self, name: str) -> ContainerFacts | None:
        """The template's container of that name, if any."""
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class ContainerFacts:
    """One container of a workload's pod template: its requests and limits as quantities."""

    name: str
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None

    def values(self) -> dict[str, str | None]:
        """The four values keyed as set_resources names them."""
        return {
            "cpu_request": self.cpu_request,
            "cpu_limit": self.cpu_limit,
            "memory_request": self.memory_request,
            "memory_limit": self.memory_limit,
        }


@dataclass(frozen=True)
class PodFacts:
    """A single pod the action evicts."""

    read_at: datetime
    node: str | None
    has_empty_dir: bool
    has_local_storage: bool
    """emptyDir, hostPath or local persistent storage: data that does not follow the pod."""
    is_daemonset_pod: bool
    is_mirror_pod: bool


class EventReason(StrEnum):
    """The Events about a workload's pods that change what an action can achieve."""

    FAILED_SCHEDULING = "FailedScheduling"
    """The scheduler found no node for the pod (resources, selectors, taints)."""
    BACK_OFF = "BackOff"
    """The kubelet backs off restarting a crashing container (or pulling its image)."""
    OOM_KILLING = "OOMKilling"
    """The kernel's OOM killer ended a container (reported on the pod's node)."""


@dataclass(frozen=True)
class EventFinding:
    """One reason of recent Events about the target's pods, still borne out by those pods' state."""

    reason: EventReason
    pods: tuple[str, ...]
    """The pods it was reported about (the pods examined are bounded, so these are too)."""
    count: int
    """How many times, summed over those pods (Events aggregate repeats)."""
    message: str
    """The newest message, capped (the text is the cluster's: shown escaped, never obeyed)."""

    def describe(self) -> str:
        """`2 pods: FailedScheduling (x5): "0/3 nodes are available ..."`, for reasons."""
        pods = f"{len(self.pods)} pod" + ("" if len(self.pods) == 1 else "s")
        return f'{pods}: {self.reason.value} (x{self.count}): "{self.message}"'


@dataclass(frozen=True)
class EventFacts:
    """Recent Events about the workload's troubled pods, read per pod (field-selected by the
    involved object), counted only while the pod's own state still shows the trouble."""

    read_at: datetime
    pods_examined: int
    """Troubled pods whose Events were read (at most the probe's bound)."""
    findings: tuple[EventFinding, ...] = ()

    def finding(self, reason: EventReason) -> EventFinding | None:
        """The finding for that reason, if any pod has it."""
        return next((f for f in self.findings if f.reason is reason), None)


@dataclass(frozen=True)
class NodeFacts:
    """A node and what runs on it."""

    read_at: datetime
    exists: bool
    ready: bool | None
    unschedulable: bool
    pod_count: int
    """Pods on the node that a drain would evict (not DaemonSet or mirror pods, not finished)."""
    workload_count: int
    """Distinct controllers (or bare pods) behind those pods."""
    local_storage_pods: int
    """Of those pods, how many hold emptyDir or other local data."""
    daemonset_or_mirror_pods: int
    unowned_pods: int
    """Pods with no controller: a drain deletes them for good."""
    pod_namespaces: tuple[str, ...] = ()
    """The namespace of each of those `pod_count` pods (a drain leaves protected ones alone)."""
    cluster_nodes: int | None = None
    """Nodes in the cluster, None when not read."""
    cluster_unschedulable: int | None = None
    """Nodes already cordoned (this one included when it is), None when not read."""


@dataclass(frozen=True)
class PdbFacts:
    """PodDisruptionBudgets covering the affected pods."""

    read_at: datetime
    count: int
    min_disruptions_allowed: int | None
    """The tightest `status.disruptionsAllowed` among them, None when no PDB applies."""


@dataclass(frozen=True)
class RevisionFacts:
    """History a rollback or restore can return to."""

    read_at: datetime
    revisions_before_incident: tuple[str, ...]
    """Revision numbers (or names) created strictly before the incident began, newest first."""
    current_revision: str | None
    current_predates_incident: bool
    """The running template is older than the incident: rolling back changes nothing useful."""
    snapshot_available: bool
    """The agent's own last-known-good copy from before the incident exists."""
    cutoff: datetime | None = None
    """The moment "before the incident" means: the action's own (`Action.known_good_cutoff`)."""
    history: tuple[RevisionEntry, ...] = ()
    """The controller history still held by the cluster, oldest first."""
    running_digest: str | None = None
    """Digest of the template running now (restart stamps ignored)."""
    snapshot_digest: str | None = None
    """Digest of the known-good snapshot's template (workloads only), when there is one."""


@dataclass(frozen=True)
class RevisionEntry:
    """One revision of a workload's controller history, reduced to what a judgement needs."""

    number: int
    created: datetime
    name: str
    digest: str
    """Digest of its pod template with restart stamps and controller hashes removed."""
    images: tuple[str, ...] = ()
    """The images of its pod template's containers, in order (what a Git revert would set)."""


@dataclass(frozen=True)
class HpaFacts:
    """The HorizontalPodAutoscaler that owns the workload's replica count, if any."""

    read_at: datetime
    name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int


@dataclass(frozen=True)
class ConsumerFacts:
    """Workloads that consume a ConfigMap or sit behind a Service."""

    read_at: datetime
    workloads: int
    ready_replicas: int


@dataclass(frozen=True)
class ActivityFacts:
    """The agent's own recent actions, from its store, within the probe's lookback window."""

    read_at: datetime
    window_seconds: float
    on_target: tuple[datetime, ...]
    in_namespace: tuple[datetime, ...]
    overall: tuple[datetime, ...]

    @property
    def last_on_target(self) -> datetime | None:
        """The newest action on the target, if any."""
        return max(self.on_target) if self.on_target else None


@dataclass(frozen=True)
class EnvironmentFacts:
    """State around the action: incidents, the alert, the kill switch, the namespace."""

    read_at: datetime
    open_incidents: int
    alert_firing: bool | None
    """True if any of the proposal's alerts still fires, False if none does, None if unknown."""
    kill_switch: bool
    tier: Tier


@dataclass(frozen=True)
class Facts:
    """Everything the scorers and the policy look at for one proposal."""

    probed_at: datetime
    target: TargetFacts
    environment: EnvironmentFacts
    activity: ActivityFacts
    workload: WorkloadFacts | None = None
    pod: PodFacts | None = None
    node: NodeFacts | None = None
    pdb: PdbFacts | None = None
    revisions: RevisionFacts | None = None
    hpa: HpaFacts | None = None
    consumers: ConsumerFacts | None = None
    premises: PremiseFacts | None = None
    """What the cluster says about each thing the incident's alerts claim."""
    events: EventFacts | None = None
    """Recent Events about the workload's troubled pods (for actions whose hints ask for them)."""
    api_reads: int = 0
    """Reads the probe made through its reader (served from a cache or the API)."""

    @property
    def oldest_read(self) -> datetime:
        """The read time of the stalest group: facts are only as fresh as this."""
        groups = (
            self.target,
            self.environment,
            self.activity,
            self.workload,
            self.pod,
            self.node,
            self.pdb,
            self.revisions,
            self.hpa,
            self.consumers,
            self.premises,
            self.events,
        )
        return min(g.read_at for g in groups if g is not None)

    def age_seconds(self, now: datetime) -> float:
        """How old the stalest fact is at `now` (never negative)."""
        return max(0.0, (now - self.oldest_read).total_seconds())
