"""The console's read queries: newest first, keyset pages that neither skip nor repeat, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.store import IncidentStatus, Store
from agent.store.browse import Cursor, IncidentFilter, cursor_text, parse_cursor

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _incident(store: Store, n: int, *, namespace: str, action: str | None, verdict: str | None) -> str:
    incident = store.incidents.open(
        f"fp-{n}",
        incident_id=f"inc-{n:04d}",
        alerts=[{"name": "KubePodNotReady", "labels": {"namespace": namespace}}],
        started_at=T0 + timedelta(minutes=n // 2),  # pairs share a start time: the id breaks the tie
        namespace=namespace,
    )
    if action is None:
        store.incidents.transition(incident.id, IncidentStatus.ESCALATED)
        return incident.id
    proposal = store.incidents.add_proposal(
        incident.id, action=action, params={}, target_kind="Deployment", target_name="web", target_namespace=namespace
    )
    store.incidents.add_decision(proposal.id, verdict=str(verdict), risk_total=0.5, components={}, rules=[])
    return incident.id


def _fill(store: Store) -> dict[str, tuple[str, str | None, str | None]]:
    made = {}
    for n in range(23):
        namespace = "shop" if n % 2 else "pay"
        action, verdict = [("rollback_workload", "approve"), ("scale_workload", "execute"), (None, None)][n % 3]
        made[_incident(store, n, namespace=namespace, action=action, verdict=verdict)] = (namespace, action, verdict)
    return made


def _all_pages(store: Store, filters: IncidentFilter, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: Cursor | None = None
    while True:
        page = store.browse.incidents(filters, cursor=cursor, limit=limit)
        seen.extend(s.incident.id for s in page.rows)
        if page.next_cursor is None:
            return seen
        cursor = parse_cursor(cursor_text(page.next_cursor))


def test_pages_walk_every_incident_newest_first_without_gaps_or_repeats(store: Store) -> None:
    made = _fill(store)
    walked = _all_pages(store, IncidentFilter(), limit=5)
    expected = sorted(made, key=lambda i: (store.incidents.get(i).started_at, i), reverse=True)  # type: ignore[union-attr]
    assert walked == expected


def test_filters_select_by_namespace_action_verdict_and_state(store: Store) -> None:
    made = _fill(store)

    def expect(keep: object) -> list[str]:
        return sorted((i for i, v in made.items() if keep(v)), reverse=True)  # type: ignore[operator]

    assert sorted(_all_pages(store, IncidentFilter(namespace="shop"), 4), reverse=True) == expect(
        lambda v: v[0] == "shop"
    )
    assert sorted(_all_pages(store, IncidentFilter(action="scale_workload"), 4), reverse=True) == expect(
        lambda v: v[1] == "scale_workload"
    )
    assert sorted(_all_pages(store, IncidentFilter(verdict="approve", namespace="pay"), 4), reverse=True) == expect(
        lambda v: v[2] == "approve" and v[0] == "pay"
    )
    assert sorted(_all_pages(store, IncidentFilter(verdict="escalate"), 4), reverse=True) == expect(
        lambda v: v[1] is None
    )
    assert _all_pages(store, IncidentFilter(status="resolved"), 4) == []


def test_a_row_carries_the_latest_proposal_and_its_verdict(store: Store) -> None:
    _incident(store, 1, namespace="shop", action="rollback_workload", verdict="approve")
    (row,) = store.browse.incidents(IncidentFilter(), limit=10).rows
    assert row.proposal is not None and row.proposal.action == "rollback_workload"
    assert row.decision is not None and row.decision.verdict == "approve"


def test_a_malformed_cursor_is_ignored() -> None:
    assert parse_cursor("not-a-cursor") is None
    assert parse_cursor("yesterday|inc-1") is None
    assert parse_cursor(None) is None
