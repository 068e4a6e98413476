"""Leader election on a Lease served by the simulated cluster, with a clock the test moves."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from actions.kube import Kube
from agent.leader import LeaderElector, LeaseConfig
from simcluster.harness import RunningSim
from tests.agent.conftest import FakeClock

LEASE = "scutum-leader"
NAMESPACE = "default"


@pytest.fixture
def kube(bare_sim: RunningSim) -> Kube:
    return Kube.from_url(bare_sim.url)


def elector(kube: Kube, clock: FakeClock, identity: str, changes: list[bool] | None = None) -> LeaderElector:
    config = LeaseConfig(LEASE, NAMESPACE, identity, lease_duration=15.0, renew_deadline=10.0, retry_period=2.0)
    return LeaderElector(kube, config, clock=clock, on_change=changes.append if changes is not None else None)


def lease(kube: Kube) -> dict[str, Any]:
    spec: dict[str, Any] = kube.get("Lease", LEASE, NAMESPACE)["spec"]
    return spec


def test_first_candidate_creates_the_lease_and_leads(kube: Kube, clock: FakeClock) -> None:
    changes: list[bool] = []
    a = elector(kube, clock, "agent-a", changes)

    assert a.try_acquire_or_renew() is True

    assert a.is_leader
    assert lease(kube)["holderIdentity"] == "agent-a"
    assert lease(kube)["leaseDurationSeconds"] == 15
    assert changes == [True]


def test_leader_renews_without_a_transition(kube: Kube, clock: FakeClock) -> None:
    a = elector(kube, clock, "agent-a")
    a.try_acquire_or_renew()
    first = lease(kube)

    clock.advance(5)
    assert a.try_acquire_or_renew() is True

    renewed = lease(kube)
    assert renewed["renewTime"] > first["renewTime"]
    assert renewed["acquireTime"] == first["acquireTime"]
    assert renewed["leaseTransitions"] == first["leaseTransitions"]


def test_candidate_does_not_lead_while_another_holds_a_valid_lease(kube: Kube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "agent-a"), elector(kube, clock, "agent-b")
    a.try_acquire_or_renew()

    clock.advance(10)
    assert b.try_acquire_or_renew() is False

    assert not b.is_leader
    assert lease(kube)["holderIdentity"] == "agent-a"


def test_leader_that_cannot_renew_stops_leading_before_the_lease_expires(kube: Kube, clock: FakeClock) -> None:
    changes: list[bool] = []
    a = elector(kube, clock, "agent-a", changes)
    a.try_acquire_or_renew()

    clock.advance(9)
    assert a.is_leader
    clock.advance(2)  # past the 10 s renew deadline, still inside the 15 s lease

    assert not a.is_leader


def test_leader_loses_when_another_holder_took_the_lease(kube: Kube, clock: FakeClock) -> None:
    changes: list[bool] = []
    a, b = elector(kube, clock, "agent-a", changes), elector(kube, clock, "agent-b")
    a.try_acquire_or_renew()
    clock.advance(16)
    assert b.try_acquire_or_renew() is True

    assert a.try_acquire_or_renew() is False

    assert not a.is_leader
    assert changes == [True, False]


def test_standby_takes_over_after_expiry_and_counts_a_transition(kube: Kube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "agent-a"), elector(kube, clock, "agent-b")
    a.try_acquire_or_renew()
    before = lease(kube)["leaseTransitions"]

    clock.advance(14)
    assert b.try_acquire_or_renew() is False
    clock.advance(2)
    assert b.try_acquire_or_renew() is True

    assert lease(kube)["holderIdentity"] == "agent-b"
    assert lease(kube)["leaseTransitions"] == before + 1


def test_release_hands_the_lease_over_without_waiting_for_expiry(kube: Kube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "agent-a"), elector(kube, clock, "agent-b")
    a.try_acquire_or_renew()

    a.release()

    assert not a.is_leader
    assert lease(kube)["holderIdentity"] == ""
    assert b.try_acquire_or_renew() is True
    assert lease(kube)["holderIdentity"] == "agent-b"


def test_release_by_a_non_leader_leaves_the_lease_alone(kube: Kube, clock: FakeClock) -> None:
    a, b = elector(kube, clock, "agent-a"), elector(kube, clock, "agent-b")
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()

    b.release()

    assert lease(kube)["holderIdentity"] == "agent-a"
    assert a.is_leader


def test_election_loop_leads_in_the_background_and_releases_on_stop(kube: Kube, clock: FakeClock) -> None:
    config = LeaseConfig(LEASE, NAMESPACE, "agent-a", lease_duration=15.0, renew_deadline=10.0, retry_period=0.01)
    a = LeaderElector(kube, config, clock=clock)
    a.start()
    try:
        led = any(a.is_leader or threading.Event().wait(0.01) for _ in range(200))
    finally:
        a.stop()

    assert led
    assert a.is_leader is False
    assert lease(kube)["holderIdentity"] == ""
