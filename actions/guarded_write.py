"""The one way actions write: a server-side dry run first, then the real write; a 409 re-reads once.

An action hands over a *plan*: a function that reads the current state and returns the write
to make (a function of `dry_run`), or None when the state is already what the action wants.
Re-running the plan after a conflict is what "re-read and retry once" means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.kube import ConflictError

Obj = dict[str, Any]
Write = Callable[[bool], Obj]
"""A write to the API server; called with dry_run=True first, then dry_run=False."""
Plan = Callable[[], Write | None]
"""Reads the current state; returns the write that brings it to the wanted state, or None."""


def dry_run_then_write(plan: Plan) -> Obj | None:
    """Run `plan`, dry-run its write, then write for real. None when nothing needed changing.

    A 409 Conflict (stale resourceVersion) on either call re-reads through `plan` and tries once more.
    """
    for attempt in range(2):
        write = plan()
        if write is None:
            return None
        try:
            write(True)
            return write(False)
        except ConflictError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
