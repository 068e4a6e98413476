"""History commands at size: the audit chain streamed as plain rows, approval requests paged
with one votes read (behaviour only; timings and memory are in bench/)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import GeneratorType

from sqlalchemy import Engine, create_engine, event

from actions.base import ActionName
from agent.app import open_store
from agent.audit import AuditKind, AuditLog, link_of, verify_records
from agent.cli import settings_from
from agent.store import Store
from agent.store.approval_requests import SqlApprovalRepository
from agent.store.audit_rows import AuditRepository
from agent.store.database import Database
from agent.store.tables import AuditRow
from approvals.model import ApprovalRequest, Target, Vote, VoteChannel, VoteDecision
from tests.agent.conftest import FakeClock
from tests.agent.test_cli_commands import invoke


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(str(args[2]).split()[0]))
    return seen


def test_the_chain_streams_in_pages_as_plain_records(store: Store, store_url: str, clock: FakeClock) -> None:
    log = AuditLog(store.audit, clock=clock)
    for n in range(23):
        clock.advance(0.123457)  # times with microseconds, as the daemon writes them
        log.append(AuditKind.INCIDENT, actor="scutum", payload={"n": n})
    engine = create_engine(store_url)
    try:
        audit = AuditRepository(Database(engine))
        statements = _statements(engine)
        rows = list(audit.rows([AuditRow.seq], page=5))
        assert [row.seq for row in rows] == list(range(1, 24))
        assert statements.count("SELECT") == 5, "23 rows in pages of 5: five reads"
        assert [seq for seq, _ in audit.hashes()] == list(range(1, 24))
        assert isinstance(audit.records(), GeneratorType), "records are read as the verifier asks for them"
        report = verify_records(audit.records(), head=audit.head())
        assert report.ok and report.count == 23
        assert list(audit.links()) == [link_of(record) for record in audit.records()], "raw reads, same links"
        assert verify_records(audit.links(), head=audit.head()).ok
    finally:
        engine.dispose()


def _request(clock: FakeClock, n: int) -> ApprovalRequest:
    return ApprovalRequest(
        id=f"req-{n:03d}",
        incident_id=f"inc-{n}",
        incident_summary="KubePodCrashLooping on shop/cart",
        required_approvals=1,
        action=ActionName.RESTART_WORKLOAD,
        params={"namespace": "shop", "name": "cart"},
        target=Target(kind="Deployment", name="cart", namespace="shop"),
        risk={"score": 0.5, "components": {}},
        threshold=0.3,
        created_at=clock.now + timedelta(seconds=n),
        deadline=clock.now + timedelta(hours=1),
    )


def test_a_page_of_requests_reads_votes_once(store: Store, store_url: str, clock: FakeClock) -> None:
    for n in range(12):
        store.approvals.create(_request(clock, n))
        for voter in range(n % 3):
            vote = Vote(approver=f"U{voter}", decision=VoteDecision.APPROVE, at=clock.now, channel=VoteChannel.CLI)
            store.approvals.add_vote(f"req-{n:03d}", vote)
    engine = create_engine(store_url)
    try:
        repository = SqlApprovalRepository(Database(engine))
        statements = _statements(engine)
        page = repository.page(limit=5, offset=5)
        assert [r.id for r in page] == [f"req-{n:03d}" for n in range(5, 10)]
        assert [len(r.votes) for r in page] == [n % 3 for n in range(5, 10)]
        assert statements.count("SELECT") == 2, "the requests, then all their votes"
        assert [r.id for r in repository.list()] == [f"req-{n:03d}" for n in range(12)]
    finally:
        engine.dispose()


def test_approvals_list_pages_on_the_command_line(tmp_path: Path, clock: FakeClock) -> None:
    store = open_store(settings_from(None, tmp_path))
    for n in range(5):
        store.approvals.create(_request(clock, n))
    store.close()
    first = invoke("approvals", "list", "--data-dir", str(tmp_path), "--limit", "2", "--json")
    third = invoke("approvals", "list", "--data-dir", str(tmp_path), "--limit", "2", "--page", "3", "--json")
    text = invoke("approvals", "list", "--data-dir", str(tmp_path), "--limit", "2")
    assert [r["id"] for r in json.loads(first.stdout)] == ["req-000", "req-001"]
    assert [r["id"] for r in json.loads(third.stdout)] == ["req-004"]
    assert "more on --page 2" in text.stdout
