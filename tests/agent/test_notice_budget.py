"""A flood of escalations is a handful of Slack posts, and the next post says what was held back."""

from __future__ import annotations

from datetime import timedelta

from agent.notice_budget import NoticeBudget
from tests.agent.conftest import FakeClock


def test_notices_beyond_the_budget_are_held_back_and_counted(clock: FakeClock) -> None:
    budget = NoticeBudget(clock=clock, limit=3, interval=timedelta(minutes=1))

    taken = [budget.take() for _ in range(1000)]

    assert taken[:3] == [0, 0, 0] and set(taken[3:]) == {None}
    clock.advance(60)
    assert budget.take() == 997  # the first post of the next minute says how many were held
    assert budget.take() == 0
