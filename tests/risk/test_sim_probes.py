"""Probes and the watch cache against the simulated cluster over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actions.kube import Kube, PatchType
from risk.cache import ClusterCache
from risk.facts import Tier
from risk.probes import probe
from simcluster.harness import RunningSim
from tests.risk.builders import NOW, proposal, restart
from tests.risk.fakes import FakeAlerts, FakeHistory


def _settle(sim: RunningSim) -> None:
    for _ in range(30):
        sim.cluster.tick(2)


@pytest.fixture
def kube(sim: RunningSim) -> Iterator[Kube]:
    _settle(sim)
    client = Kube.from_url(sim.url)
    yield client
    client.close()


def test_probe_reads_a_settled_deployment_and_its_pdb(kube: Kube) -> None:
    facts = probe(
        restart(name="frontend"), reader=kube, history=FakeHistory(), alerts=FakeAlerts({"fp-1": True}), now=NOW
    )
    assert facts.target.exists
    assert facts.workload is not None
    assert facts.workload.desired_replicas == 3
    assert facts.workload.ready_replicas == 3
    assert not facts.workload.rollout_in_flight
    assert facts.pdb is not None and facts.pdb.count == 1
    assert facts.revisions is not None and facts.revisions.current_revision == "1"
    assert facts.environment.tier is Tier.STANDARD


def test_probe_reads_the_namespace_tier_label(kube: Kube) -> None:
    kube.patch(
        "Namespace", "shop", {"metadata": {"labels": {"scutum.dev/tier": "critical"}}}, patch_type=PatchType.MERGE
    )
    facts = probe(restart(name="frontend"), reader=kube, history=FakeHistory(), alerts=FakeAlerts(), now=NOW)
    assert facts.environment.tier is Tier.CRITICAL


def test_cache_serves_probes_without_api_requests(kube: Kube) -> None:
    with ClusterCache(kube, watch_timeout_seconds=5) as cache:
        before = kube.requests
        for _ in range(20):
            probe(restart(name="frontend"), reader=cache, history=FakeHistory(), alerts=FakeAlerts(), now=NOW)
            node = kube_node_name(cache)
            probe(
                proposal("drain_node", {"name": node, "evict_pods": True}),
                reader=cache,
                history=FakeHistory(),
                alerts=FakeAlerts(),
                now=NOW,
            )
        assert kube.requests - before <= 2, "40 probes are served from memory"
        assert cache.live_reads == 0


def kube_node_name(cache: ClusterCache) -> str:
    return str(cache.list("Node")[0]["metadata"]["name"])


def test_cache_sees_updates_through_the_watch(kube: Kube) -> None:
    with ClusterCache(kube, watch_timeout_seconds=5) as cache:
        kube.patch("Deployment", "frontend", {"spec": {"replicas": 5}}, "shop", patch_type=PatchType.MERGE)
        seen = cache.wait_until(lambda c: c.get("Deployment", "frontend", "shop")["spec"]["replicas"] == 5, timeout=5.0)
        assert seen
        facts = probe(restart(name="frontend"), reader=cache, history=FakeHistory(), alerts=FakeAlerts(), now=NOW)
        assert facts.workload is not None and facts.workload.desired_replicas == 5
