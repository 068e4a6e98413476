"""Properties over generated cluster states and proposals for all nine actions, hostile ones
included (out-of-range params, missing targets, alerts the cluster contradicts, planner claims):

- a proposal whose preconditions fail is never `execute` or `approve`;
- nothing outside an operator cap is ever `execute` or `approve`;
- the verdict `scutum plan` and the daemon reach (`Evaluator.evaluate`) is the one the executor
  reaches when it re-validates on the same state, with the same failed preconditions;
- whenever a precondition fails at execution time, the executor's check refuses to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.base import ActionContext, ActionLimits, ActionName, ActionRefused
from actions.quantity import parse_quantity
from actions.registry import get_action, parse_invocation
from agent.evaluate import Evaluator, NoHistory, Outcome
from agent.intake import Incident, Intake
from agent.planning.base import PlanResult
from risk.assess import precondition_refusal
from risk.auditor import ClaimKey
from risk.model import Proposal
from risk.settings import PolicySettings, RiskSettings
from tests.agent.fixtures.cluster import NOW, FakeCluster, container, deployment, meta, pod, replicaset

Obj = dict[str, Any]
LIMITS = ActionLimits(max_scale_replicas=50, max_drain_evictions=2)
POLICY = PolicySettings(execute_max=0.6, deny_min=0.95)
"""Loose bands, so that whatever is denied is denied for a reason other than the score."""
NODES = ("node-1", "node-2", "node-3", "node-4")
ALERTS = (
    ("KubeNodeNotReady", {"node": "node-1"}),
    ("KubePodCrashLooping", {"namespace": "prod", "pod": "web-b2-x"}),
    ("KubeDeploymentReplicasMismatch", {"namespace": "prod", "deployment": "web"}),
    ("KubeDeploymentRolloutStuck", {"namespace": "prod", "deployment": "web"}),
    ("KubeJobFailed", {"namespace": "prod", "job_name": "report-1"}),
)


@dataclass(frozen=True)
class World:
    """A generated cluster and what it holds that the caps depend on."""

    cluster: FakeCluster
    memory_limit: str
    movable_on_node_1: int


def _node(name: str, *, ready: bool, cordoned: bool) -> Obj:
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {
        "kind": "Node",
        "metadata": meta(name, None, created=NOW - timedelta(days=9)),
        "spec": {"unschedulable": cordoned},
        "status": {"conditions": [condition]},
    }


def _status(pod_obj: Obj, *, healthy: bool) -> Obj:
    waiting = {"waiting": {"reason": "CrashLoopBackOff"}}
    pod_obj["spec"] = {"nodeName": "node-1"}
    pod_obj["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if healthy else "False"}],
        "containerStatuses": [{"name": "app", "ready": healthy, "state": {"running": {}} if healthy else waiting}],
    }
    return pod_obj


@st.composite
def worlds(draw: st.DrawFn, *, with_targets: bool = False) -> World:
    objects: list[Obj] = []
    memory = draw(st.sampled_from(["128Mi", "256Mi", "1Gi"]))
    movable = 0
    if with_targets or draw(st.booleans()):
        desired, ready = draw(st.integers(0, 5)), draw(st.integers(0, 5))
        web = deployment("web", replicas=desired, containers=[container("app", memory=memory)])
        web["metadata"]["generation"] = 2
        web["status"] = {
            "observedGeneration": draw(st.sampled_from([1, 2])),
            "replicas": desired,
            "updatedReplicas": draw(st.integers(0, desired)),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        objects.append(web)
        revisions = [
            replicaset(web, f"r{n}", revision=n, created=NOW - timedelta(minutes=draw(st.integers(1, 6000))))
            for n in range(1, draw(st.integers(0, 3)) + 1)
        ]
        objects += revisions
        if revisions:
            objects.append(_status(pod("web-b2-x", revisions[-1]), healthy=draw(st.booleans())))
            movable += 1
        if draw(st.booleans()):
            objects.append(
                {
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": meta("web", "prod", created=NOW - timedelta(days=3)),
                    "spec": {
                        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                        "minReplicas": 2,
                        "maxReplicas": 8,
                    },
                    "status": {"currentReplicas": 8},
                }
            )
    for index in range(draw(st.integers(0, 3))):
        namespace = draw(st.sampled_from(["prod", "kube-system"]))
        bare = _status(pod(f"debug-{index}", None, namespace=namespace), healthy=True)
        objects.append(bare)
        movable += namespace != "kube-system"
    owner = objects[0] if objects else None
    for index in range(draw(st.integers(2, 4)) if owner is not None else 0):
        objects.append(_status(pod(f"batch-{index}", owner, namespace="prod"), healthy=True))
        movable += 1
    for name in NODES[: draw(st.integers(1, 4))]:
        objects.append(_node(name, ready=draw(st.booleans()), cordoned=draw(st.booleans())))
    for kind in ("ConfigMap", "Service", "CronJob"):
        if draw(st.booleans()):
            objects.append(
                {
                    "kind": kind,
                    "metadata": meta("web" if kind != "CronJob" else "report", "prod", created=NOW - timedelta(days=5)),
                    "spec": {},
                }
            )
    return World(FakeCluster(*objects), memory, movable)


NAMES = st.sampled_from(["web", "ghost"])
BEFORE = st.integers(0, 6000).map(lambda m: (NOW - timedelta(minutes=m)).isoformat())
INVOCATIONS: dict[ActionName, st.SearchStrategy[dict[str, Any]]] = {
    ActionName.RESTART_WORKLOAD: st.fixed_dictionaries(
        {"kind": st.just("Deployment"), "namespace": st.just("prod"), "name": NAMES, "restart_token": st.just("t")}
    ),
    ActionName.SCALE_WORKLOAD: st.fixed_dictionaries(
        {
            "kind": st.just("Deployment"),
            "namespace": st.just("prod"),
            "name": NAMES,
            "replicas": st.integers(0, 60) | st.integers(0, 10_000),
            "hpa_bounds": st.none()
            | st.integers(1, 10_000).flatmap(
                lambda low: st.fixed_dictionaries(
                    {"min_replicas": st.just(low), "max_replicas": st.integers(low, 10_000)}
                )
            ),
        }
    ),
    ActionName.ROLLBACK_WORKLOAD: st.fixed_dictionaries(
        {"kind": st.just("Deployment"), "namespace": st.just("prod"), "name": NAMES, "before": BEFORE},
        optional={"to_revision": st.integers(1, 5)},
    ),
    ActionName.RESTORE_CONFIGMAP: st.fixed_dictionaries(
        {"namespace": st.just("prod"), "name": NAMES, "before": BEFORE}
    ),
    ActionName.RESTORE_SERVICE: st.fixed_dictionaries({"namespace": st.just("prod"), "name": NAMES, "before": BEFORE}),
    ActionName.SET_RESOURCES: st.fixed_dictionaries(
        {
            "kind": st.just("Deployment"),
            "namespace": st.just("prod"),
            "name": NAMES,
            "container": st.sampled_from(["app", "sidecar"]),
            "memory_limit": st.sampled_from(["32Mi", "128Mi", "300Mi", "512Mi", "2Gi", "64Gi"]),
        }
    ),
    ActionName.EVICT_POD: st.fixed_dictionaries(
        {
            "namespace": st.sampled_from(["prod", "kube-system"]),
            "name": st.sampled_from(["web-b2-x", "debug-0", "gone"]),
        }
    ),
    ActionName.DRAIN_NODE: st.fixed_dictionaries(
        {"name": st.sampled_from([*NODES, "node-9"]), "evict_pods": st.booleans()}
    ),
    ActionName.SUSPEND_CRONJOB: st.fixed_dictionaries(
        {"namespace": st.just("prod"), "name": st.sampled_from(["report", "ghost"])}
    ),
}
CLAIMS = st.dictionaries(
    st.sampled_from([k.value for k in ClaimKey] + ["made_up"]),
    st.one_of(st.booleans(), st.integers(0, 9), st.just("3")),
    max_size=3,
)


@st.composite
def proposals(draw: st.DrawFn, *, among: tuple[ActionName, ...] = tuple(ActionName)) -> Proposal:
    name = draw(st.sampled_from(among))
    invocation = draw(INVOCATIONS[name])
    if among != tuple(ActionName):  # aim at what exists, so only the caps can stop it
        invocation.update({"name": "node-1"} if name is ActionName.DRAIN_NODE else {"name": "web", "container": "app"})
        if name is not ActionName.SET_RESOURCES:
            invocation.pop("container", None)
    action, params = parse_invocation(name.value, invocation)
    return Proposal(action.name, params, action.target(params), NOW - timedelta(minutes=10), claims=draw(CLAIMS))


def incident_for(alert: str, labels: dict[str, str]) -> Incident:
    raw = {
        "labels": {"alertname": alert, "severity": "warning", **labels},
        "annotations": {},
        "startsAt": (NOW - timedelta(minutes=10)).isoformat(),
        "endsAt": (NOW + timedelta(minutes=5)).isoformat(),
        "fingerprint": f"fp-{alert}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }
    return Intake().ingest_poll([raw], now=NOW).new[0]


class Fixed:
    """A planner that proposes what it is given (as a hostile LLM planner may)."""

    name = "fixed"

    def __init__(self, proposal: Proposal) -> None:
        self._proposal = proposal

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        return PlanResult(self._proposal)


def caps_hold(proposal: Proposal, world: World) -> bool:
    """The operator's caps, computed here independently of the actions' code."""
    p: Any = proposal.params
    match proposal.action:
        case ActionName.SCALE_WORKLOAD:
            high = p.hpa_bounds.max_replicas if p.hpa_bounds else 0
            return bool(p.replicas <= LIMITS.max_scale_replicas and high <= LIMITS.max_scale_replicas)
        case ActionName.SET_RESOURCES:
            ratio = parse_quantity(p.memory_limit) / parse_quantity(world.memory_limit)
            return bool(Decimal("0.5") <= ratio <= Decimal("2"))
        case ActionName.DRAIN_NODE:
            return not (p.evict_pods and p.name == "node-1" and world.movable_on_node_1 > LIMITS.max_drain_evictions)
        case _:
            return True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), proposal=proposals(), alert=st.sampled_from(ALERTS))
def test_plan_daemon_and_executor_agree_and_never_pass_a_failed_precondition_or_a_cap(
    world: World, proposal: Proposal, alert: tuple[str, dict[str, str]]
) -> None:
    incident = incident_for(*alert)
    evaluator = Evaluator(
        Fixed(proposal), world.cluster, NoHistory(), RiskSettings(), POLICY, live=world.cluster, limits=LIMITS
    )
    planned = evaluator.evaluate(incident, now=NOW)
    assert planned.decision is not None and planned.proposal is not None
    failed = planned.decision.failed_preconditions
    if failed:
        assert planned.outcome is Outcome.DENY, planned.reasons
    if planned.outcome in (Outcome.EXECUTE, Outcome.APPROVE):
        assert caps_hold(proposal, world), (proposal, planned.reasons)

    _, at_execution = evaluator.rescore(planned.proposal, incident, now=NOW)
    assert at_execution.verdict.value == planned.outcome.value
    assert at_execution.failed_preconditions == failed
    assert (precondition_refusal(at_execution) is None) == (not failed)


CAPPED = (ActionName.SCALE_WORKLOAD, ActionName.SET_RESOURCES, ActionName.DRAIN_NODE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(with_targets=True), proposal=proposals(among=CAPPED))
def test_nothing_outside_a_cap_is_executed_or_approved(world: World, proposal: Proposal) -> None:
    incident = incident_for("KubeJobFailed", {"namespace": "prod", "job_name": "report-1"})  # claims nothing
    evaluator = Evaluator(Fixed(proposal), world.cluster, NoHistory(), RiskSettings(), POLICY, limits=LIMITS)
    planned = evaluator.evaluate(incident, now=NOW)
    assert planned.decision is not None
    if not caps_hold(proposal, world):
        assert planned.outcome is Outcome.DENY, planned.reasons
        assert any("within" in c.name for c in planned.decision.failed_preconditions), planned.reasons


class WriteRecorder(FakeCluster):
    """The generated cluster as an action's adapter: reads answer, every write is recorded."""

    def __init__(self, world: World) -> None:
        super().__init__(*world.cluster.objects.values())
        self.writes: list[str] = []

    def patch(self, kind: str, name: str, *args: Any, **kwargs: Any) -> Obj:
        self.writes.append(f"patch {kind}/{name}")
        return self.get(kind, name, args[1] if len(args) > 1 else kwargs.get("namespace"))

    def replace(self, kind: str, name: str, *args: Any, **kwargs: Any) -> Obj:
        self.writes.append(f"replace {kind}/{name}")
        return dict(args[0])

    def evict(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.writes.append(f"evict {namespace}/{name}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(with_targets=True), proposal=proposals(among=CAPPED))
def test_an_action_called_directly_never_writes_outside_a_cap(world: World, proposal: Proposal) -> None:
    kube = WriteRecorder(world)
    context = ActionContext(kube=kube, clock=lambda: NOW, limits=LIMITS, sleep=lambda seconds: None)  # type: ignore[arg-type]
    action = get_action(proposal.action)
    try:
        action.execute(context, proposal.params)
    except ActionRefused:
        assert not kube.writes, kube.writes
        return
    assert caps_hold(proposal, world) or not kube.writes, (proposal, kube.writes)
