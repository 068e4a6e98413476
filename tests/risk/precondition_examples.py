"""One worked precondition example per action, rendered for docs/risk-model.md by the engine itself.

Regenerate the doc's section with `python -m tests.risk.precondition_examples`; a test fails when
the doc and the engine disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from actions.base import ActionLimits
from actions.facts import ContainerFacts, Facts, PdbFacts, RevisionFacts
from actions.premise import AlertPremise, Claim, PremiseFacts, SubjectState
from risk.assess import assess, judge_proposal
from risk.model import Proposal
from risk.settings import PolicySettings, RiskSettings
from tests.risk.builders import INCIDENT, NOW, base_facts, node, pod, proposal, revisions, workload, workload_facts

BEFORE = (INCIDENT - timedelta(minutes=20)).isoformat()


@dataclass(frozen=True)
class Example:
    """A proposal, the facts the probes read, and what the example shows."""

    title: str
    proposal: Proposal
    facts: Facts


def _examples() -> list[Example]:
    deploy = {"kind": "Deployment", "namespace": "shop", "name": "web"}
    sized = replace(workload(4), containers=(ContainerFacts("app", memory_request="256Mi", memory_limit="512Mi"),))
    not_ready = AlertPremise("KubeNodeNotReady", Claim.NODE_NOT_READY, "Node", "node-1")
    premise = PremiseFacts(NOW, ((not_ready, SubjectState(exists=True, ready=True, detail="Ready=True")),))
    no_history = RevisionFacts(NOW, (), None, False, False, cutoff=INCIDENT - timedelta(minutes=20))
    drained = replace(node(6, 3), pod_namespaces=("shop",) * 6, cluster_nodes=4, cluster_unschedulable=0)
    return [
        Example(
            "the target is gone",
            proposal("restart_workload", {**deploy, "restart_token": "inc-1"}),
            base_facts(exists=False),
        ),
        Example(
            "HPA bounds beyond max_scale_replicas",
            proposal(
                "scale_workload",
                {**deploy, "replicas": 20, "hpa_bounds": {"min_replicas": 10_000, "max_replicas": 10_000}},
            ),
            workload_facts(4),
        ),
        Example(
            "nothing known good to go back to",
            proposal("rollback_workload", {**deploy, "before": BEFORE}),
            replace(workload_facts(0), revisions=revisions(())),
        ),
        Example(
            "no snapshot from before the cutoff",
            proposal("restore_configmap", {"namespace": "shop", "name": "web-config", "before": BEFORE}),
            replace(base_facts("ConfigMap"), revisions=no_history),
        ),
        Example(
            "deleted, but a snapshot exists (the action re-creates it)",
            proposal("restore_service", {"namespace": "shop", "name": "web", "before": BEFORE}),
            replace(base_facts("Service", exists=False), revisions=replace(no_history, snapshot_available=True)),
        ),
        Example(
            "a memory limit beyond the operator's factor",
            proposal("set_resources", {**deploy, "container": "app", "memory_limit": "4Gi"}),
            replace(workload_facts(4), workload=sized),
        ),
        Example(
            "a pod nothing recreates",
            proposal("evict_pod", {"namespace": "shop", "name": "debug-1"}),
            replace(base_facts("Pod"), pod=pod(), pdb=PdbFacts(NOW, 0, None)),
        ),
        Example(
            "KubeNodeNotReady for a node the cluster reports Ready",
            replace(proposal("drain_node", {"name": "node-1", "evict_pods": True}), premises=(not_ready,)),
            replace(base_facts("Node"), node=drained, premises=premise),
        ),
        Example(
            "every precondition holds, the score decides",
            proposal("suspend_cronjob", {"namespace": "shop", "name": "report"}),
            base_facts("CronJob"),
        ),
    ]


def render() -> str:
    """Markdown for the doc: each example's preconditions, state validity and verdict."""
    parts = []
    for example in _examples():
        judgement = judge_proposal(example.proposal, example.facts, ActionLimits())
        risk, decision = assess(example.proposal, example.facts, RiskSettings(), PolicySettings(), now=NOW)
        lines = [f"### `{example.proposal.action.value}`", "", f"*{example.title}*", ""]
        lines += [f"- {'holds' if c.holds else '**fails**'} `{c.name}`: {c.detail}" for c in judgement.checks]
        validity = risk.components[next(c for c in risk.components if c.value == "state_validity")].score
        lines += ["", f"state validity {validity:.2f}, total {risk.total:.2f} → **{decision.verdict.value}**", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


if __name__ == "__main__":
    print(render())
