"""The evaluator decides from the watch cache, but re-validates from the API server itself."""

from __future__ import annotations

from typing import Any

import pytest

from actions.kube import Kube
from actions.registry import parse_invocation
from agent.evaluate import Evaluator, NoHistory
from agent.planning.runbook import RunbookPlanner
from risk.cache import ClusterCache
from risk.model import Proposal
from risk.settings import PolicySettings, RiskSettings
from risk.sources import ReadCounter, RecheckReader
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


class RecordingKube:
    """The live reads a re-check sends: gets by target, lists with their selectors."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.lists: list[tuple[str, str | None, str | None, str | None]] = []
        self.gets: list[tuple[str, str]] = []

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        self.gets.append((kind, name))
        return self.kube.get(kind, name, namespace)

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.gets.append((kind, name))
        return self.kube.try_get(kind, name, namespace)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        self.lists.append((kind, namespace, label_selector, field_selector))
        return self.kube.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)


TARGET = {"namespace": "shop", "name": "catalog", "kind": "Deployment"}


@pytest.mark.parametrize(
    ("action_name", "params"),
    [
        ("scale_workload", {**TARGET, "replicas": 3}),
        ("restart_workload", {**TARGET, "restart_token": "t1"}),
        ("rollback_workload", {**TARGET, "before": "2026-01-01T00:00:00Z"}),
    ],
)
def test_a_recheck_reads_the_target_live_and_never_lists_a_namespace_on_the_api_server(
    sim: RunningSim, action_name: str, params: dict[str, Any]
) -> None:
    sim.cluster.tick(30)
    kube = Kube.from_url(sim.url)
    live = RecordingKube(kube)
    with ClusterCache(kube) as cache:
        evaluator = Evaluator(
            RunbookPlanner(cache), cache, NoHistory(), RiskSettings(), PolicySettings(), live=RecheckReader(live, cache)
        )
        action, typed = parse_invocation(action_name, params)
        now = sim.cluster.clock.now()
        evaluator.rescore(Proposal(action.name, typed, action.target(typed), now), None, now=now)

    assert ("Deployment", "catalog") in live.gets, "the target itself is read live"
    assert live.lists, "what the target owns is read live"
    unselected = [call for call in live.lists if call[2] is None and call[3] is None]
    assert unselected == [], "every live list is narrowed by a label or field selector"
