"""Every write is a dry run first; a 409 re-reads (re-plans) and retries once, no more."""

from __future__ import annotations

import pytest

from actions.guarded_write import Write, dry_run_then_write
from actions.kube import ConflictError


class Planner:
    """A plan whose write conflicts a scripted number of times."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.reads = 0
        self.calls: list[bool] = []

    def plan(self) -> Write | None:
        self.reads += 1

        def write(dry_run: bool) -> dict[str, object]:
            self.calls.append(dry_run)
            if not dry_run and self.conflicts:
                self.conflicts -= 1
                raise ConflictError("stale resourceVersion", status=409)
            return {"read": self.reads}

        return write


def test_dry_run_comes_before_the_write() -> None:
    planner = Planner(conflicts=0)
    assert dry_run_then_write(planner.plan) == {"read": 1}
    assert planner.calls == [True, False]


def test_a_conflict_rereads_and_retries_once() -> None:
    planner = Planner(conflicts=1)
    assert dry_run_then_write(planner.plan) == {"read": 2}
    assert planner.reads == 2 and planner.calls == [True, False, True, False]


def test_a_second_conflict_is_raised() -> None:
    planner = Planner(conflicts=2)
    with pytest.raises(ConflictError):
        dry_run_then_write(planner.plan)
    assert planner.reads == 2


def test_nothing_to_change_writes_nothing() -> None:
    assert dry_run_then_write(lambda: None) is None
