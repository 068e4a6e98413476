"""What the pages show, from stored records: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.store import AuditRecord
from console.present import (
    BAR_WIDTH,
    HIDDEN,
    PROMPT_KEYS,
    changes,
    claim_checks,
    countdown,
    hide_prompts,
    risk_bars,
    timeline,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _components(**scores: float) -> dict[str, Any]:
    return {k: {"score": v, "reasons": [f"{k} because"]} for k, v in scores.items()}


def test_bars_follow_the_model_order_and_scale_with_the_score() -> None:
    bars = risk_bars(_components(operational_pressure=0.1, blast_radius=0.8, reversibility=0.35, state_validity=0.0))
    assert [b.key for b in bars] == ["blast_radius", "reversibility", "state_validity", "operational_pressure"]
    assert [b.width for b in bars] == [round(0.8 * BAR_WIDTH), round(0.35 * BAR_WIDTH), 0, round(0.1 * BAR_WIDTH)]
    assert [b.band for b in bars] == ["high", "mid", "low", "low"]
    assert bars[0].reasons == ("blast_radius because",)


@given(score=st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10))
def test_a_bar_never_leaves_the_chart(score: float) -> None:
    (bar,) = risk_bars(_components(blast_radius=score))
    assert 0 <= bar.width <= BAR_WIDTH


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["request", "response", "a", "b", "messages"]), children, max_size=4)
    ),
    max_leaves=20,
)


def _keys_with_values(value: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found.append((k, v))
            found.extend(_keys_with_values(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_keys_with_values(v))
    return found


@given(payload=json_values)
def test_hidden_prompts_leave_no_prompt_value_anywhere(payload: Any) -> None:
    hidden = hide_prompts(payload, show=False)
    assert all(v == HIDDEN for k, v in _keys_with_values(hidden) if k in PROMPT_KEYS)
    assert hide_prompts(payload, show=True) == payload


def test_claims_stand_next_to_the_auditors_findings() -> None:
    components = {
        "state_validity": {
            "score": 0.6,
            "reasons": ["planner claimed ready_replicas=3, probes saw 1", "target is settled"],
        }
    }
    checks = claim_checks({"ready_replicas": 3, "target_exists": True}, components)
    assert [(c.key, c.held) for c in checks] == [("ready_replicas", False), ("target_exists", True)]
    assert checks[0].finding == "planner claimed ready_replicas=3, probes saw 1"
    assert checks[1].finding == "confirmed by the probes"


def _record(seq: int, kind: str, payload: dict[str, Any], actor: str = "scutum") -> AuditRecord:
    return AuditRecord(seq, NOW, kind, actor, "inc-1", payload, "", "")


def test_the_timeline_tells_each_step_and_keeps_its_record() -> None:
    steps = timeline(
        [
            _record(1, "incident", {"alerts": ["KubePodNotReady"]}),
            _record(2, "risk", {"score": 0.72}),
            _record(3, "decision", {"verdict": "approve", "rules": ["needs approval"]}),
            _record(
                4,
                "approval_vote",
                {"event": "approval_vote_recorded", "decision": "approve", "channel": "console"},
                "alice",
            ),
            _record(5, "verification", {"ok": True, "detail": "rolled back"}),
            _record(6, "incident", {"event": "resolved"}),
        ]
    )
    assert [(s.seq, s.title) for s in steps] == [
        (1, "Alert"),
        (2, "Risk"),
        (3, "Verdict: approve"),
        (4, "Vote"),
        (5, "Verification"),
        (6, "Resolved"),
    ]
    assert steps[3].detail == "alice via console: approve"
    assert steps[1].detail == "score 0.72"


def test_countdown_reads_minutes_and_seconds_then_expired() -> None:
    assert countdown(NOW + timedelta(seconds=125), NOW) == "2m 05s"
    assert countdown(NOW + timedelta(hours=2, minutes=3), NOW) == "2h 03m"
    assert countdown(NOW - timedelta(seconds=1), NOW) == "expired"


def test_changes_list_only_the_fields_an_action_changed() -> None:
    outcome = {
        "before": {"spec": {"containers": [{"image": "web:bad", "name": "web"}]}, "replicas": 3},
        "after": {"spec": {"containers": [{"image": "web:1.4", "name": "web"}]}, "replicas": 3, "note": "x"},
    }
    assert [(c.path, c.before, c.after) for c in changes(outcome)] == [
        ("note", "-", "x"),
        ("spec.containers[0].image", "web:bad", "web:1.4"),
    ]
    assert changes({"detail": "no before/after"}) == []
    assert changes(None) == []
