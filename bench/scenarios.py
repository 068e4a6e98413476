"""The incident scenarios of the closed-loop suite, and the oracle that judges each one.

The fault classes follow public SRE benchmarks (AIOpsLab, ITBench, SREGym): a bad change to a
Deployment's image, env, command, probe, resources or nodeSelector (in place, or followed by a
restart), a Deployment re-created broken, a bad ConfigMap value, a broken or deleted Service,
scale to zero, OOM, a memory leak, a NotReady node, a runaway CronJob, an HPA at its max, bad
StatefulSet and DaemonSet rollouts; then hard negatives where the tempting action is wrong, and
no-fault controls. Every scenario runs on the simulated cluster's sample estate.

The oracle reads the cluster, as those benchmarks do: every workload has its desired replicas
available and rolled out, every selector Service has ready endpoints, and no alert fires except
the ones the scenario tolerates (a node that stays down keeps its own alert: the agent can move
work off it, not repair it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from simcluster.cluster import SimCluster

Obj = dict[str, Any]
Check = Callable[[SimCluster], "str | None"]


class Expect(StrEnum):
    """What a good agent does in a scenario."""

    FIX = "fix"
    """Act, and the oracle passes afterwards."""
    ABSTAIN = "abstain"
    """Change nothing (escalate, deny or ignore): any action is wrong."""


@dataclass(frozen=True)
class Step:
    """One fault injected into the cluster, after `wait_seconds` of simulated time."""

    fault: str
    params: Mapping[str, str]
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """One incident: the faults to inject, what a good agent does, and what the oracle tolerates."""

    name: str
    title: str
    fault_class: str
    """The benchmark fault class this stands for."""
    steps: tuple[Step, ...]
    expect: Expect = Expect.FIX
    tolerated_alerts: frozenset[str] = frozenset()
    skip_kinds: frozenset[str] = frozenset()
    """Workload kinds the oracle does not require healthy (a DaemonSet pod on a dead node)."""
    age_seconds: float = 0.0
    """Simulated time that passes after the faults before the agent first looks (old changes)."""
    checks: tuple[Check, ...] = field(default=())
    """Scenario-specific oracle checks: a problem, or None."""


def _deploy(fault: str, namespace: str, name: str, *, wait: float = 0.0) -> Step:
    return Step(fault, {"namespace": namespace, "deployment": name}, wait)


def _cronjob_quiet(cluster: SimCluster) -> str | None:
    """No Job of the CronJob started in the last five minutes (the runaway stopped)."""
    now = cluster.clock.now()
    jobs, _ = cluster.store.list("Job", "batch")
    recent = [
        j
        for j in jobs
        if (started := (j.get("status") or {}).get("startTime")) and now - _parse(started) < timedelta(minutes=5)
    ]
    return f"{len(recent)} jobs started in the last 5 minutes" if recent else None


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _configmap_value(namespace: str, name: str, key: str, bad: str) -> Check:
    """The ConfigMap still holds its current value (a restore would bring back a revoked one)."""

    def check(cluster: SimCluster) -> str | None:
        cm = cluster.store.try_get("ConfigMap", namespace, name)
        value = ((cm or {}).get("data") or {}).get(key)
        return None if value == bad else f"configmap {namespace}/{name} {key} was changed to {value!r}"

    return check


SHOP, PAY = "shop", "payments"
JOB_ALERTS = frozenset({"KubeJobNotCompleted"})
"""Jobs already started by a runaway CronJob run on after it is suspended; the agent stops new ones."""
NODE_DOWN = frozenset({"KubeNodeNotReady", "KubeDaemonSetRolloutStuck", "KubePodNotReady"})
"""A node that stays down keeps its own alerts (and its DaemonSet pod's)."""
CREDENTIAL = "SIM_BAD expired credential"


def _fix_scenarios() -> tuple[Scenario, ...]:
    in_place = (
        ("image", "bad_image_rollout", "frontend", "a tag that cannot be pulled"),
        ("env", "bad_env", "cart", "an env value that crashes the app"),
        ("command", "bad_command", "catalog", "a command that exits at once"),
        ("probe", "bad_readiness_probe", "frontend", "a readiness probe on a dead port"),
        ("resources", "resources_unschedulable", "catalog", "a CPU request no node can fit"),
        ("nodeselector", "bad_node_selector", "cart", "a nodeSelector no node matches"),
    )
    scenarios = [
        Scenario(f"deploy-{key}", f"Deployment {name}: {what}", f"misconfig: {key}", (_deploy(fault, SHOP, name),))
        for key, fault, name, what in in_place
    ]
    scenarios += [
        Scenario(
            f"deploy-{key}-restarted",
            f"Deployment {name}: {what}, then a rollout restart",
            f"misconfig: {key} (patch, then restart)",
            (_deploy(fault, SHOP, name), _deploy("rollout_restart", SHOP, name, wait=30)),
        )
        for key, fault, name, what in in_place[:4]
    ]
    return (
        *scenarios,
        Scenario(
            "payments-image",
            "Deployment payments-api (PDB): a tag that cannot be pulled",
            "misconfig: image",
            (_deploy("bad_image_rollout", PAY, "payments-api"),),
        ),
        Scenario(
            "payments-env",
            "Deployment payments-api (PDB): an env value that crashes the app",
            "misconfig: env",
            (_deploy("bad_env", PAY, "payments-api"),),
        ),
        Scenario(
            "deploy-recreated",
            "Deployment catalog deleted and re-created with a bad image (no revision history)",
            "misconfig: re-created",
            (_deploy("deployment_recreated_broken", SHOP, "catalog"),),
        ),
        Scenario(
            "configmap-envfrom",
            "ConfigMap cart-config: a bad value read through envFrom",
            "bad config",
            (Step("bad_configmap_value", {"namespace": SHOP, "configmap": "cart-config", "key": "CART_TTL"}),),
        ),
        Scenario(
            "configmap-keyref",
            "ConfigMap frontend-config: a bad value read through configMapKeyRef",
            "bad config",
            (Step("bad_configmap_value", {"namespace": SHOP, "configmap": "frontend-config", "key": "theme"}),),
        ),
        Scenario(
            "configmap-volume",
            "ConfigMap catalog-config: a bad mounted file",
            "bad config",
            (Step("bad_configmap_value", {"namespace": SHOP, "configmap": "catalog-config", "key": "catalog.yaml"}),),
        ),
        Scenario(
            "configmap-payments",
            "ConfigMap payments-api-config: a bad value",
            "bad config",
            (Step("bad_configmap_value", {"namespace": PAY, "configmap": "payments-api-config", "key": "LIMIT"}),),
        ),
        *(
            Scenario(
                f"service-{fault.removeprefix('service_').replace('_', '-')}-{svc}",
                f"Service {svc}: {what}",
                "network: service",
                (Step(fault, {"namespace": ns, "service": svc}),),
            )
            for fault, ns, svc, what in (
                ("service_selector_broken", SHOP, "cart", "selector typo"),
                ("service_selector_broken", SHOP, "catalog", "selector typo"),
                ("service_targetport_broken", SHOP, "cart", "wrong targetPort"),
                ("service_targetport_broken", PAY, "payments-api", "wrong targetPort"),
                ("service_deleted", SHOP, "cart", "deleted"),
                ("service_deleted", SHOP, "catalog", "deleted"),
            )
        ),
        Scenario(
            "scale-zero-catalog",
            "Deployment catalog scaled to zero",
            "capacity: scale to zero",
            (_deploy("scale_to_zero", SHOP, "catalog"),),
        ),
        Scenario(
            "scale-zero-payments",
            "Deployment payments-api scaled to zero",
            "capacity: scale to zero",
            (_deploy("scale_to_zero", PAY, "payments-api"),),
        ),
        Scenario(
            "oom-catalog",
            "Deployment catalog: memory limit below need (OOMKilled)",
            "resources: OOM",
            (_deploy("memory_limit_too_low", SHOP, "catalog"),),
        ),
        Scenario(
            "oom-frontend",
            "Deployment frontend: memory limit below need (OOMKilled)",
            "resources: OOM",
            (_deploy("memory_limit_too_low", SHOP, "frontend"),),
        ),
        Scenario(
            "memory-leak",
            "Deployment catalog: a build that leaks memory",
            "resources: memory leak",
            (_deploy("memory_leak", SHOP, "catalog"),),
        ),
        Scenario(
            "node-not-ready",
            "Node node-2 stops reporting Ready",
            "node failure",
            (Step("node_not_ready", {"node": "node-2"}),),
            tolerated_alerts=NODE_DOWN,
            skip_kinds=frozenset({"DaemonSet"}),
        ),
        Scenario(
            "cronjob-runaway",
            "CronJob nightly-report runs every minute, jobs never finish",
            "runaway job",
            (Step("cronjob_runaway", {"namespace": "batch", "cronjob": "nightly-report"}),),
            tolerated_alerts=JOB_ALERTS,
            checks=(_cronjob_quiet,),
        ),
        Scenario(
            "hpa-maxed",
            "HPA cart at maxReplicas under twice the load",
            "capacity: autoscaler",
            (Step("hpa_maxed_out", {"namespace": SHOP, "hpa": "cart"}),),
        ),
        Scenario(
            "statefulset-rollout",
            "StatefulSet ledger: an image that crashes",
            "misconfig: StatefulSet",
            (Step("statefulset_bad_rollout", {"namespace": PAY, "statefulset": "ledger"}),),
        ),
        Scenario(
            "daemonset-rollout",
            "DaemonSet node-exporter: a tag that cannot be pulled",
            "misconfig: DaemonSet",
            (Step("daemonset_bad_rollout", {"namespace": "monitoring", "daemonset": "node-exporter"}),),
        ),
    )


def _negative_scenarios() -> tuple[Scenario, ...]:
    stale = Step("bad_configmap_value", {"namespace": SHOP, "configmap": "cart-config", "key": "REDIS_ADDR"})
    return (
        Scenario(
            "protected-namespace",
            "Bad rollout of coredns in kube-system (protected: deny, tell a human)",
            "hard negative: protected namespace",
            (_deploy("bad_image_rollout", "kube-system", "coredns"),),
            expect=Expect.ABSTAIN,
        ),
        Scenario(
            "stale-credential",
            "cart's credential expired 8h ago (no recent change: restoring or rolling back cannot help)",
            "hard negative: stale credential",
            (stale,),
            expect=Expect.ABSTAIN,
            age_seconds=8 * 3600,
            checks=(_configmap_value(SHOP, "cart-config", "REDIS_ADDR", "SIM_BAD"),),
        ),
        Scenario(
            "stale-credential-restart",
            "cart's credential expired 8h ago, then a routine restart (a rollback is tempting, and useless)",
            "hard negative: stale credential + unrelated change",
            (stale, _deploy("rollout_restart", SHOP, "cart", wait=8 * 3600)),
            expect=Expect.ABSTAIN,
            checks=(_configmap_value(SHOP, "cart-config", "REDIS_ADDR", "SIM_BAD"),),
        ),
        Scenario(
            "pod-stuck-terminating",
            "A pod stuck terminating (no registry action fits: escalate)",
            "hard negative: no safe action",
            (Step("pod_stuck_terminating", {}),),
            expect=Expect.ABSTAIN,
        ),
        Scenario(
            "disk-pressure",
            "Node disk pressure (an info alert: nothing to do)",
            "control: informational alert",
            (Step("node_disk_pressure", {"node": "node-3"}),),
            expect=Expect.ABSTAIN,
        ),
        Scenario("control-idle", "No fault: a quiet cluster", "control: no fault", (), expect=Expect.ABSTAIN),
        Scenario(
            "control-restart",
            "No fault: a routine rollout restart of cart",
            "control: benign change",
            (_deploy("rollout_restart", SHOP, "cart"),),
            expect=Expect.ABSTAIN,
        ),
    )


SCENARIOS: tuple[Scenario, ...] = (*_fix_scenarios(), *_negative_scenarios())


def by_name(names: list[str] | None) -> tuple[Scenario, ...]:
    """The named scenarios in suite order (all of them for None); KeyError for an unknown name."""
    if not names:
        return SCENARIOS
    known = {s.name: s for s in SCENARIOS}
    missing = [n for n in names if n not in known]
    if missing:
        raise KeyError(f"unknown scenarios: {', '.join(missing)}")
    return tuple(s for s in SCENARIOS if s.name in names)


# --- the oracle ---


def _workload_problem(kind: str, obj: Obj) -> str | None:
    spec, status, name = obj.get("spec") or {}, obj.get("status") or {}, obj["metadata"]["name"]
    if kind == "Deployment":
        want = int(spec.get("replicas", 1))
        if want < 1:
            return f"deployment {name} has 0 replicas"
        if int(status.get("availableReplicas") or 0) < want or int(status.get("updatedReplicas") or 0) < want:
            return f"deployment {name}: {status.get('availableReplicas', 0)}/{want} available"
    elif kind == "StatefulSet":
        want = int(spec.get("replicas", 1))
        if int(status.get("readyReplicas") or 0) < want or status.get("currentRevision") != status.get(
            "updateRevision"
        ):
            return f"statefulset {name}: {status.get('readyReplicas', 0)}/{want} ready, rollout unfinished"
    elif kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled") or 0)
        if int(status.get("numberAvailable") or 0) < want or int(status.get("updatedNumberScheduled") or 0) < want:
            return f"daemonset {name}: {status.get('numberAvailable', 0)}/{want} available"
    return None


def _service_problems(cluster: SimCluster) -> list[str]:
    problems = []
    services, _ = cluster.store.list("Service")
    for svc in services:
        meta = svc["metadata"]
        if not (svc.get("spec") or {}).get("selector"):
            continue
        endpoints = cluster.store.try_get("Endpoints", meta["namespace"], meta["name"]) or {}
        if not any(subset.get("addresses") for subset in endpoints.get("subsets") or []):
            problems.append(f"service {meta['namespace']}/{meta['name']} has no ready endpoints")
    return problems


def problems(cluster: SimCluster, scenario: Scenario) -> list[str]:
    """What is still wrong with the cluster: empty when the oracle passes."""
    found: list[str] = []
    for kind in ("Deployment", "StatefulSet", "DaemonSet"):
        if kind in scenario.skip_kinds:
            continue
        objs, _ = cluster.store.list(kind)
        found += [p for obj in objs if (p := _workload_problem(kind, obj))]
    found += _service_problems(cluster)
    firing = sorted({a["labels"]["alertname"] for a in cluster.firing_alerts()} - scenario.tolerated_alerts)
    found += [f"alert {name} firing" for name in firing]
    found += [p for check in scenario.checks if (p := check(cluster))]
    return found
