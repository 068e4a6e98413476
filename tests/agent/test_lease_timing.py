"""The Lease timing rule: a leader that cannot renew stops writing before a standby may take over."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.settings import LeaderElectionSettings


def test_defaults_leave_a_clock_skew_margin() -> None:
    le = LeaderElectionSettings()
    assert le.renew_deadline_seconds + le.clock_skew_seconds < le.lease_duration_seconds


@pytest.mark.parametrize(
    "values",
    [
        {"lease_duration_seconds": 10, "renew_deadline_seconds": 10},
        {"lease_duration_seconds": 11, "renew_deadline_seconds": 10, "clock_skew_seconds": 1},
        {"renew_deadline_seconds": 2, "retry_period_seconds": 2},
    ],
)
def test_unsafe_lease_timings_are_refused(values: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match="leader_election"):
        LeaderElectionSettings.model_validate(values)
