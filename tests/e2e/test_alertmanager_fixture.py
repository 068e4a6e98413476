"""The Alertmanager fixture itself: a missing binary skips with how to install it, and fails
under CI=true; pushed alerts come back from the real API with their labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e import alertmanager as am
from tests.e2e.world import World


def without_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(am, "BINARY", tmp_path / "no-such-alertmanager")
    monkeypatch.setattr(shutil, "which", lambda name: None)


def test_missing_binary_skips_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    without_binary(monkeypatch, tmp_path)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install prometheus-alertmanager"):
        am.require_alertmanager()


def test_missing_binary_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    without_binary(monkeypatch, tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires Alertmanager"):
        am.require_alertmanager()


def test_pushed_alerts_are_served_and_resolved_by_alertmanager(world: World) -> None:
    world.sim.cluster.inject("scale_to_zero", namespace="shop", deployment="catalog")
    run_filter = {"filter": f'{am.RUN_LABEL}="{world.pusher.run}"'}
    for _ in range(40):
        world.step(15)
        if world.alertmanager.alerts(**run_filter):
            break
    served = world.alertmanager.alerts(**run_filter)
    assert {a["labels"]["alertname"] for a in served} == {"KubeServiceWithoutEndpoints"}
    assert served[0]["startsAt"].startswith("2026-01-01")  # the cluster's own time, not Alertmanager's

    deployment = world.sim.cluster.store.get("Deployment", "shop", "catalog")
    deployment["spec"]["replicas"] = 2  # the fix: the pusher now posts the alert as resolved
    world.sim.cluster.store.update("Deployment", deployment)
    for _ in range(20):
        world.step(15)
        if not world.alertmanager.alerts(**run_filter):
            break
    assert world.alertmanager.alerts(**run_filter) == []
