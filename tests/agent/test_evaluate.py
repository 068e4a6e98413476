"""The evaluator decides from the watch cache, but re-validates from the API server itself."""

from __future__ import annotations

from actions.kube import Kube
from actions.registry import parse_invocation
from agent.evaluate import Evaluator, NoHistory
from agent.planning.runbook import RunbookPlanner
from risk.model import Proposal
from risk.settings import PolicySettings, RiskSettings
from risk.sources import ReadCounter
from simcluster.harness import RunningSim


def test_revalidation_reads_the_live_cluster_not_the_cache(sim: RunningSim) -> None:
    sim.cluster.tick(30)
    kube = Kube.from_url(sim.url)
    cached, live = ReadCounter(kube), ReadCounter(kube)
    evaluator = Evaluator(RunbookPlanner(cached), cached, NoHistory(), RiskSettings(), PolicySettings(), live=live)
    action, params = parse_invocation(
        "scale_workload", {"namespace": "shop", "name": "catalog", "kind": "Deployment", "replicas": 3}
    )
    now = sim.cluster.clock.now()
    proposal = Proposal(action.name, params, action.target(params), now)

    evaluator.rescore(proposal, None, now=now)
    assert live.reads > 0 and cached.reads == 0

    evaluator.probe(proposal, None, now=now)
    assert cached.reads > 0, "deciding reads the (cached) view"
