"""The pod's grace period covers the agent's shutdown budget, so SIGKILL never cuts a write."""

from __future__ import annotations

from agent.settings import load_settings
from tests.deploy.chart import of_kind, render


def test_grace_period_is_explicit_and_above_the_shutdown_budget() -> None:
    (deployment,) = of_kind(render(), "Deployment")
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > load_settings(None, env={}).agent.shutdown_budget_seconds
