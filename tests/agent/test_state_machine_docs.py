"""docs/architecture.md shows each state machine as the table the code enforces."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from agent.store.records import INCIDENT_TRANSITIONS, IncidentStatus
from approvals.model import ApprovalState
from approvals.queue import TRANSITIONS

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def table(states: type[StrEnum], transitions: Mapping[Any, frozenset[Any]]) -> str:
    """The markdown table of a transition map, in the enum's order ("-": a final state)."""
    rows = ["| From | To |", "|---|---|"]
    for state in states:
        targets = [f"`{t.value}`" for t in states if t in transitions[state]]
        rows.append(f"| `{state.value}` | {', '.join(targets) or '-'} |")
    return "\n".join(rows)


@pytest.mark.parametrize(
    ("states", "transitions"),
    [(IncidentStatus, INCIDENT_TRANSITIONS), (ApprovalState, TRANSITIONS)],
    ids=["incident", "approval_request"],
)
def test_architecture_shows_the_transition_table_the_code_enforces(
    states: type[StrEnum], transitions: Mapping[Any, frozenset[Any]]
) -> None:
    assert set(transitions) == set(states)  # every state has a row
    assert table(states, transitions) in ARCHITECTURE.read_text()
