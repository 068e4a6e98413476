"""The decision queue: bounded lanes, back-pressure instead of drops, failures reported."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.work import DecisionQueue, Lane, QueueLimits


def test_a_failing_job_is_reported_and_the_next_one_still_runs() -> None:
    failures: list[str] = []
    ran: list[str] = []
    queue = DecisionQueue(on_failure=lambda label, exc: failures.append(f"{label}: {exc}"))

    def boom() -> None:
        raise RuntimeError("planner exploded")

    assert queue.offer(Lane.ALERTS, boom, label="batch 1")
    assert queue.offer(Lane.ALERTS, lambda: ran.append("batch 2"))
    queue.start()
    try:
        assert queue.join(timeout=10)
    finally:
        queue.stop()

    assert failures == ["batch 1: planner exploded"] and ran == ["batch 2"]
    assert queue.stats.failed == 1


def test_a_batch_bigger_than_its_lane_is_taken_only_when_the_lane_is_empty() -> None:
    queue = DecisionQueue(QueueLimits(alerts=10))
    assert queue.offer(Lane.ALERTS, lambda: None, units=500)
    assert not queue.offer(Lane.ALERTS, lambda: None, units=1)
    queue.run_pending()
    assert queue.depth(Lane.ALERTS) == 0


def test_a_stopped_queue_refuses_new_work() -> None:
    queue = DecisionQueue()
    queue.start()
    queue.stop()
    assert not queue.offer(Lane.CLICKS, lambda: None)
    assert queue.stats.refused[Lane.CLICKS] == 1


@given(st.lists(st.tuples(st.sampled_from(list(Lane)), st.integers(min_value=1, max_value=40)), max_size=60))
def test_depth_never_exceeds_capacity_and_every_offer_is_accepted_or_refused(offers: list[tuple[Lane, int]]) -> None:
    limits = QueueLimits(alerts=50, doubtful=50, clicks=5)
    queue = DecisionQueue(limits)
    oversized = dict.fromkeys(Lane, 0)  # a lone batch bigger than its lane is let in when the lane is empty
    for lane, units in offers:
        before = queue.depth(lane)
        accepted = queue.offer(lane, lambda: None, units=units)
        assert accepted == (before == 0 or before + units <= limits.of(lane))
        if accepted and before == 0:
            oversized[lane] = units
        assert queue.depth(lane) <= max(limits.of(lane), oversized[lane])
    assert sum(queue.stats.accepted.values()) + sum(queue.stats.refused.values()) == len(offers)
    queue.run_pending()
    assert all(queue.depth(lane) == 0 for lane in Lane)
