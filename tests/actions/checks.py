"""Checks every action's integration test makes: dry run first and harmless, second run a no-op."""

from __future__ import annotations

from typing import Any

import pytest

from actions.base import Outcome
from actions.registry import get_action
from tests.actions.conftest import Env, StopBeforeRealWrite


def dry_run_changes_nothing(env: Env, action: str, params: dict[str, Any]) -> None:
    """Stopped where the real write would go, the action has sent a dry run and changed nothing."""
    impl = get_action(action)
    before = env.revision
    kube = env.dry_run_only()
    with pytest.raises(StopBeforeRealWrite):
        impl.execute(env.ctx(kube=kube), impl.parse(params))
    assert kube.writes, "the action wrote nothing at all"
    assert kube.writes[0][2] is True, f"the first write was not a dry run: {kube.writes[0]}"
    assert env.revision == before, "a dry run changed the cluster"
    kube.close()


def second_run_changes_nothing(env: Env, action: str, params: dict[str, Any]) -> Outcome:
    """Running the same invocation again writes nothing and says so."""
    before = env.revision
    outcome, _ = env.run(action, params)
    assert outcome.changed is False, outcome.detail
    assert env.revision == before, "the second run wrote to the cluster"
    return outcome


def real_writes_follow_dry_runs(env: Env) -> None:
    """Every real write the recording adapter saw came right after a dry run of the same write."""
    writes = env.kube.writes
    for index, (verb, what, dry) in enumerate(writes):
        if not dry:
            assert index > 0, f"{verb} {what} had no dry run before it"
            assert writes[index - 1] == (verb, what, True), f"{verb} {what} had no dry run right before it"
