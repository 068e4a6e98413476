"""Rendered Block Kit messages against golden files (see render_cases.py to update them)."""

from __future__ import annotations

import json

import pytest

from approvals.model import ApprovalState
from approvals.render import APPROVE_ACTION_ID, REJECT_ACTION_ID, UNDO_ACTION_ID, request_message, result_reply
from tests.approvals.render_cases import CASES, base, dump, snapshot_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_message_matches_snapshot(name: str) -> None:
    path = snapshot_path(name)
    assert path.exists(), f"missing snapshot {path.name}: run python -m tests.approvals.render_cases"
    assert dump(CASES[name]()) == path.read_text(encoding="utf-8")


def _buttons(message: dict[str, object]) -> list[dict[str, str]]:
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_pending_buttons_carry_only_the_request_id() -> None:
    buttons = _buttons(request_message(base()))
    assert [(b["action_id"], b["value"]) for b in buttons] == [(APPROVE_ACTION_ID, "req1"), (REJECT_ACTION_ID, "req1")]


@pytest.mark.parametrize("state", [s for s in ApprovalState if s is not ApprovalState.PENDING])
def test_decided_requests_have_no_buttons(state: ApprovalState) -> None:
    assert _buttons(request_message(base(state=state))) == []


def test_message_shows_all_four_risk_components_with_reasons_total_and_threshold() -> None:
    text = json.dumps(request_message(base()))
    for component in ("blast_radius", "reversibility", "state_validity", "operational_pressure"):
        assert f"`{component}`" in text
    assert "2 of 3 ready replicas restart at once" in text
    assert "Risk 0.62" in text and "0.50 or above" in text


def test_user_text_is_escaped_so_it_cannot_mention_or_link() -> None:
    text = json.dumps(request_message(base(incident_summary="<!channel> <https://evil|click>")))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_undo_button_only_when_an_inverse_exists() -> None:
    with_undo = result_reply(base(state=ApprovalState.SUCCEEDED, result="ok", undo_available=True))
    assert [(b["action_id"], b["value"]) for b in _buttons(with_undo)] == [(UNDO_ACTION_ID, "req1")]
    assert _buttons(result_reply(base(state=ApprovalState.SUCCEEDED, result="ok"))) == []
