"""Action outcomes as stored data and back: what the store and the audit chain keep of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from actions.base import Invocation, Outcome


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """What an action did, as JSON: the store keeps it, the inverse is rebuilt from it."""
    payload: dict[str, Any] = to_jsonable_python(
        {
            "changed": outcome.changed,
            "detail": outcome.detail,
            "api_calls": list(outcome.api_calls),
            "before": outcome.before,
            "after": outcome.after,
        }
    )
    return payload


def outcome_from(payload: Mapping[str, Any]) -> Outcome:
    """The stored outcome back as the action's own type (what `inverse` needs)."""
    return Outcome(
        changed=bool(payload.get("changed")),
        detail=str(payload.get("detail", "")),
        before=dict(payload.get("before") or {}),
        after=dict(payload.get("after") or {}),
        api_calls=tuple(payload.get("api_calls") or ()),
    )


def invocation_json(invocation: Invocation) -> dict[str, Any]:
    """A typed action request as JSON (the Undo offered after a run)."""
    payload: dict[str, Any] = to_jsonable_python({"action": invocation.action.value, "params": invocation.params})
    return payload
