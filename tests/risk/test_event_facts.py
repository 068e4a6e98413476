"""Events as facts, against the simulated cluster over HTTP: the scheduler's FailedScheduling makes a
scale-up useless (a veto with the scheduler's reason), the OOM killer's reports refuse a lower
memory limit and weigh on a restart, and the probe never lists a namespace's Events."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from actions.kube import Kube
from risk.assess import assess
from risk.event_probe import MAX_PODS, probe_events
from risk.facts import EventReason, Facts
from risk.model import Component, Proposal
from risk.probes import probe
from risk.settings import PolicySettings, RiskSettings
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim
from tests.actions import objects
from tests.risk.builders import proposal
from tests.risk.fakes import FakeAlerts, FakeHistory

NS = objects.NS
Obj = dict[str, Any]


class RecordingReader:
    """A ClusterReader over Kube that remembers every list it forwards."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.lists: builtins.list[tuple[str, str | None, str | None, str | None]] = []

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        return self.kube.get(kind, name, namespace)

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        return self.kube.try_get(kind, name, namespace)

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        self.lists.append((kind, namespace, label_selector, field_selector))
        return self.kube.list(kind, namespace, label_selector=label_selector, field_selector=field_selector)


@pytest.fixture
def kube(bare_sim: RunningSim) -> Iterator[Kube]:
    client = Kube.from_url(bare_sim.url)
    client.create("Namespace", objects.namespace())
    yield client
    client.close()


def _now(sim: RunningSim) -> datetime:
    clock = sim.cluster.clock
    assert isinstance(clock, ManualClock)
    return clock.now()


def _deploy(sim: RunningSim, kube: Kube, name: str, replicas: int, resources: Obj) -> None:
    body = objects.deployment(name, replicas)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    kube.create("Deployment", body, NS)
    for _ in range(40):
        sim.cluster.tick(2)


def _facts(sim: RunningSim, reader: Any, wanted: Proposal) -> Facts:
    return probe(wanted, reader=reader, history=FakeHistory(), alerts=FakeAlerts({"fp-1": True}), now=_now(sim))


def _scale(name: str, replicas: int) -> Proposal:
    return proposal("scale_workload", {"namespace": NS, "name": name, "kind": "Deployment", "replicas": replicas})


def _resources(name: str, **values: str) -> Proposal:
    params = {"namespace": NS, "name": name, "kind": "Deployment", "container": "app", **values}
    return proposal("set_resources", params)


def _restart(name: str) -> Proposal:
    params = {"namespace": NS, "name": name, "kind": "Deployment", "restart_token": "t1"}
    return proposal("restart_workload", params)


def _validity(sim: RunningSim, wanted: Proposal, facts: Facts) -> tuple[str, tuple[str, ...]]:
    risk, decision = assess(wanted, facts, RiskSettings(), PolicySettings(), now=_now(sim))
    return decision.verdict.value, risk.components[Component.STATE_VALIDITY].reasons


TOO_BIG = {"requests": {"cpu": "64", "memory": "128Mi"}, "limits": {"cpu": "64", "memory": "256Mi"}}


def test_the_simulated_scheduler_reports_pods_that_fit_nowhere(bare_sim: RunningSim, kube: Kube) -> None:
    _deploy(bare_sim, kube, "big", 2, TOO_BIG)
    events = kube.list("Event", NS, field_selector="reason=FailedScheduling")
    assert len(events) == 2 and all(e["involvedObject"]["kind"] == "Pod" for e in events)
    assert "0/3 nodes are available" in events[0]["message"]


def test_failed_scheduling_vetoes_a_scale_up_with_the_schedulers_reason(bare_sim: RunningSim, kube: Kube) -> None:
    _deploy(bare_sim, kube, "big", 2, TOO_BIG)
    reader = RecordingReader(kube)
    facts = _facts(bare_sim, reader, _scale("big", 4))
    assert facts.events is not None and facts.events.pods_examined == 2
    found = facts.events.finding(EventReason.FAILED_SCHEDULING)
    assert found is not None and len(found.pods) == 2 and "0/3 nodes are available" in found.message
    verdict, reasons = _validity(bare_sim, _scale("big", 4), facts)
    assert verdict == "deny"
    assert any(r.startswith("precondition new_replicas_schedulable failed: 2 pods: FailedScheduling") for r in reasons)
    # Scaling down is not made useless by it; neither is lowering the requests (that is the fix).
    assert not any("new_replicas_schedulable" in r for r in _validity(bare_sim, _scale("big", 1), facts)[1])
    lower = _resources("big", cpu_request="32", cpu_limit="32")
    assert not any("requests_schedulable" in r for r in _validity(bare_sim, lower, _facts(bare_sim, kube, lower))[1])
    higher = _resources("big", memory_request="200Mi")
    verdict, reasons = _validity(bare_sim, higher, _facts(bare_sim, kube, higher))
    assert verdict == "deny" and any("precondition requests_schedulable failed" in r for r in reasons)
    # Never a namespace-wide list of Events: one field-selected list per troubled pod.
    event_lists = [entry for entry in reader.lists if entry[0] == "Event"]
    assert len(event_lists) == 2
    assert all(f and "involvedObject.name=" in f and "involvedObject.uid=" in f for _, _, _, f in event_lists)


def test_a_healthy_workload_reads_no_events_and_scales_freely(bare_sim: RunningSim, kube: Kube) -> None:
    _deploy(bare_sim, kube, "web", 2, objects.container()["resources"])
    reader = RecordingReader(kube)
    facts = _facts(bare_sim, reader, _scale("web", 4))
    assert facts.events is not None and facts.events.pods_examined == 0 and facts.events.findings == ()
    assert not [entry for entry in reader.lists if entry[0] == "Event"]
    reasons = _validity(bare_sim, _scale("web", 4), facts)[1]
    assert not any("new_replicas_schedulable failed" in r for r in reasons), reasons


def test_the_events_read_are_bounded_however_many_pods_are_stuck(bare_sim: RunningSim, kube: Kube) -> None:
    _deploy(bare_sim, kube, "big", MAX_PODS + 4, TOO_BIG)
    reader = RecordingReader(kube)
    facts = _facts(bare_sim, reader, _scale("big", 20))
    assert facts.events is not None and facts.events.pods_examined == MAX_PODS
    assert len([entry for entry in reader.lists if entry[0] == "Event"]) == MAX_PODS


OOM = {"requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"memory": "48Mi"}}
"""Below the simulated app's memory need (64Mi): the OOM killer ends it on every start."""


def test_oom_kills_refuse_a_lower_memory_limit_and_weigh_on_a_restart(bare_sim: RunningSim, kube: Kube) -> None:
    _deploy(bare_sim, kube, "hungry", 2, OOM)
    facts = _facts(bare_sim, kube, _restart("hungry"))
    assert facts.events is not None
    oom = facts.events.finding(EventReason.OOM_KILLING)
    assert oom is not None and len(oom.pods) == 2 and "out of memory" in oom.message
    verdict, reasons = _validity(bare_sim, _restart("hungry"), facts)
    assert any(r.startswith("Events: 2 pods: OOMKilling") and "same memory limit" in r for r in reasons), reasons
    assert not any("precondition" in r and "OOM" in r for r in reasons), "a restart is weighed, not vetoed"
    lower = _resources("hungry", memory_limit="40Mi")
    verdict, reasons = _validity(bare_sim, lower, _facts(bare_sim, kube, lower))
    assert verdict == "deny" and any("precondition memory_not_lowered_under_oom failed" in r for r in reasons)
    higher = _resources("hungry", memory_limit="96Mi")
    reasons = _validity(bare_sim, higher, _facts(bare_sim, kube, higher))[1]
    assert not any("memory_not_lowered_under_oom" in r for r in reasons), "raising the limit is the fix"


def test_a_crash_loop_weighs_on_a_restart_through_its_back_off_events(bare_sim: RunningSim, kube: Kube) -> None:
    body = objects.deployment("crashy", 1, image="shop/web:broken")
    kube.create("Deployment", body, NS)
    for _ in range(60):
        bare_sim.cluster.tick(5)
    facts = _facts(bare_sim, kube, _restart("crashy"))
    assert facts.events is not None and facts.events.finding(EventReason.BACK_OFF) is not None
    reasons = _validity(bare_sim, _restart("crashy"), facts)[1]
    assert any(r.startswith("Events: 1 pod: BackOff") for r in reasons), reasons


def test_odd_events_from_the_cluster_are_read_safely() -> None:
    """Event text is the cluster's: capped and cleaned; odd timestamps and counts do not break the probe."""
    pod = {
        "metadata": {"name": "big-1", "namespace": NS, "uid": "u1"},
        "spec": {},
        "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]},
    }
    events = [
        {"reason": "FailedScheduling", "message": "\x1b[31mred\u202e" + "x" * 5000, "count": "many",
         "lastTimestamp": "2026-11-25T09:59:00"},  # no zone: read as UTC
        {"reason": "FailedScheduling", "message": "old", "count": 3, "lastTimestamp": "2026-11-25T07:00:00Z"},
        {"reason": "FailedScheduling", "message": "garbled time", "lastTimestamp": "yesterday"},
    ]  # fmt: skip

    class Reader(RecordingReader):
        def list(self, kind: str, namespace: str | None = None, **kw: Any) -> builtins.list[Obj]:
            return events if kind == "Event" else []

    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    facts = probe_events(Reader(None), [pod], namespace=NS, now=now)  # type: ignore[arg-type]
    found = facts.finding(EventReason.FAILED_SCHEDULING)
    assert found is not None and found.count == 1, "the old and the unreadable ones do not count"
    assert len(found.message) <= 200 and "\x1b" not in found.message and "\u202e" not in found.message


def test_an_oom_report_counts_only_for_the_pod_it_names() -> None:
    """The kernel's report names a pod inside its text: "web-1" must not take "web-10"'s kill."""

    def oom_pod(name: str) -> Obj:
        status = {"lastState": {"terminated": {"reason": "OOMKilled"}}}
        return {"metadata": {"name": name, "namespace": NS, "uid": name}, "spec": {"nodeName": "n1"},
                "status": {"containerStatuses": [status]}}  # fmt: skip

    def report(message: str) -> Obj:
        return {"reason": "OOMKilling", "message": message, "lastTimestamp": "2026-11-25T09:59:00Z"}

    class Reader(RecordingReader):
        def __init__(self, events: builtins.list[Obj]) -> None:
            self.events = events

        def list(self, kind: str, namespace: str | None = None, **kw: Any) -> builtins.list[Obj]:
            return self.events if kind == "Event" and namespace == "default" else []

    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    pods = [oom_pod("web-1"), oom_pod("web-10")]
    for message, named in [
        ("Memory cgroup out of memory: Killed process of container app in pod web-10", ["web-10"]),
        ("Memory cgroup out of memory: Killed process of container app in pod web-1", ["web-1"]),
        ("Killed process 42 (app) in pod web-1.", ["web-1"]),
        ("Killed process 42 (app) in pod web-1.b", []),
    ]:
        facts = probe_events(Reader([report(message)]), pods, namespace=NS, now=now)
        found = facts.finding(EventReason.OOM_KILLING)
        assert sorted(found.pods if found else []) == named, message
