"""The store scoped by cluster: a pre-fleet store upgrades in place as the default cluster's, and
interleaved work of two clusters on one store never crosses (a hypothesis property)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from actions.base import ActionName
from agent.audit import AuditKind, AuditLog
from agent.intake.alerts import parse_gettable_alerts
from agent.intake.incidents import Intake, incident_id
from agent.store import AuditHead, AuditRecord, FencedOut, IncidentStatus, Store, migrate
from agent.store.database import build_engine
from approvals.model import ApprovalRequest, ApprovalState, Target
from tests.agent.conftest import FakeClock
from tests.agent.test_intake import gettable

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ListStorage:
    """An in-memory chain, to compute the records a pre-fleet agent would have stored."""

    def __init__(self) -> None:
        self.items: list[AuditRecord] = []

    def head(self) -> AuditHead:
        return AuditHead(self.items[-1].seq, self.items[-1].hash) if self.items else AuditHead(0, "")

    def append(self, build: Callable[[AuditHead], AuditRecord]) -> AuditRecord:
        return self.append_many([build])[0]

    def append_many(self, builds: Sequence[Callable[[AuditHead], AuditRecord]]) -> list[AuditRecord]:
        made = []
        for build in builds:
            record = build(self.head())
            self.items.append(record)
            made.append(record)
        return made

    def records(self) -> Iterable[AuditRecord]:
        return list(self.items)


def _request(request_id: str, *, at: datetime = NOW) -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        incident_id="inc-1",
        incident_summary="KubePodCrashLooping in shop/cart",
        action=ActionName.RESTART_WORKLOAD,
        params={"namespace": "shop", "name": "cart"},
        target=Target(kind="Deployment", name="cart", namespace="shop"),
        risk={"score": 0.55, "components": {}},
        threshold=0.3,
        required_approvals=1,
        created_at=at,
        deadline=at + timedelta(minutes=15),
    )


def test_a_pre_fleet_store_upgrades_in_place_as_the_default_cluster(store_url: str) -> None:
    engine = build_engine(store_url)
    migrate.upgrade(engine, "execution_approval")  # the schema before the fleet
    chain = ListStorage()
    old_log = AuditLog(chain, clock=lambda: NOW)
    for n in range(3):
        old_log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n}, incident_id="inc-old")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, fingerprint, group_key, alert_name, status, started_at, updated_at, "
                "alerts) VALUES ('inc-old', 'fp', '', 'KubePodCrashLooping', 'open', :at, :at, '[]')"
            ),
            {"at": NOW},
        )
        for r in chain.items:
            conn.execute(
                text(
                    "INSERT INTO audit_records (seq, ts, kind, actor, incident_id, payload, prev_hash, hash) "
                    "VALUES (:seq, :ts, :kind, :actor, :incident_id, :payload, :prev_hash, :hash)"
                ),
                {**r.__dict__, "payload": json.dumps(r.payload)},
            )
        conn.execute(text("UPDATE audit_head SET seq = 3, hash = :hash WHERE id = 1"), {"hash": chain.items[-1].hash})
        conn.execute(text("UPDATE control_state SET paused = :yes, reason = 'freeze' WHERE id = 1"), {"yes": True})
        conn.execute(
            text(
                'INSERT INTO replicas (identity, "leading", poll_ok, poll_detail, updated_at) '
                "VALUES ('scutum-0', :yes, :yes, '', :at)"
            ),
            {"yes": True, "at": NOW},
        )
    engine.dispose()

    store = Store.connect(store_url, clock=FakeClock(NOW))
    try:
        store.upgrade()
        with store._db.engine.connect() as conn:
            for table in ("incidents", "audit_records", "audit_head", "control_state", "replicas"):
                clusters = conn.execute(text(f"SELECT DISTINCT cluster FROM {table}")).scalars().all()
                assert clusters == ["default"], table
        incident = store.incidents.get("inc-old")
        assert incident is not None and incident.cluster == "default"
        log = AuditLog(store.audit, clock=lambda: NOW)
        assert log.verify().ok and log.verify().count == 3
        log.append(AuditKind.EXECUTION, actor="executor", payload={"n": 3})  # the chain goes on
        assert store.audit.head().seq == 4 and log.verify().ok
        assert store.control.get().paused and [r.identity for r in store.replicas.list()] == ["scutum-0"]

        other = store.for_cluster("beta")
        assert other.incidents.get("inc-old") is None and not other.control.get().paused
        assert other.audit.head() == AuditHead(0, "") and other.replicas.list() == []
        AuditLog(other.audit, clock=lambda: NOW).append(AuditKind.EXECUTION, actor="executor", payload={})
        assert other.audit.head().seq == 1 and store.audit.head().seq == 4
        assert [s.cluster for s in store.fleet.summaries()] == ["beta", "default"]
    finally:
        store.close()


def test_the_default_clusters_incident_ids_are_unchanged_and_other_clusters_differ() -> None:
    (alert,) = parse_gettable_alerts([gettable("KubePodCrashLooping", "abc", namespace="shop", pod="cart-1")]).alerts
    default = incident_id("k", alert)
    assert default == incident_id("k", alert, cluster="default")
    assert len({default, incident_id("k", alert, cluster="alpha"), incident_id("k", alert, cluster="beta")}) == 3
    polled = [gettable("KubePodCrashLooping", "abc", namespace="shop", pod="cart-1")]
    (home,) = Intake().ingest_poll(polled, now=NOW).new
    (away,) = Intake(cluster="alpha").ingest_poll(polled, now=NOW).new
    assert home.id != away.id and home.group_key == away.group_key


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One SQLite store for every example; each example works under clusters of its own."""
    path: Path = tmp_path_factory.mktemp("fleet") / "scutum.db"
    store = Store.connect(f"sqlite:///{path}", clock=FakeClock(NOW))
    store.upgrade()
    yield store
    store.close()


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["open", "request", "approve", "audit", "pause", "resume"]),
        st.integers(0, 1),  # which cluster
        st.integers(0, 2),  # which name: fingerprints and requests collide across clusters on purpose
    ),
    max_size=25,
)


@given(OPERATIONS)
@settings(max_examples=30, deadline=None)
def test_interleaved_work_of_two_clusters_never_crosses(shared: Store, operations: list[tuple[str, int, int]]) -> None:
    run = uuid4().hex[:8]
    stores = [shared.for_cluster(f"a-{run}"), shared.for_cluster(f"b-{run}")]
    logs = [AuditLog(s.audit, clock=lambda: NOW) for s in stores]
    opened: list[set[str]] = [set(), set()]
    requested: list[set[str]] = [set(), set()]
    approved: list[set[str]] = [set(), set()]
    records, paused = [0, 0], [False, False]
    for operation, who, name in operations:
        mine, other = stores[who], stores[1 - who]
        fingerprint = f"fp-{run}-{name}"
        if operation == "open" and mine.incidents.active_by_fingerprint(fingerprint) is None:
            mine.incidents.open(fingerprint, alerts=[], started_at=NOW)
            opened[who].add(fingerprint)
        elif operation == "request":
            request_id = f"req-{run}-{who}-{len(requested[who])}"
            mine.approvals.create(_request(request_id))
            requested[who].add(request_id)
        elif operation == "approve":
            for request_id in sorted(requested[1 - who] - approved[1 - who]):  # the other's: refused
                assert not mine.approvals.transition(
                    request_id, [ApprovalState.PENDING], ApprovalState.APPROVED, at=NOW
                )
            for request_id in sorted(requested[who] - approved[who])[:1]:
                assert mine.approvals.transition(request_id, [ApprovalState.PENDING], ApprovalState.APPROVED, at=NOW)
                approved[who].add(request_id)
        elif operation == "audit":
            logs[who].append(AuditKind.EXECUTION, actor="executor", payload={"name": name})
            records[who] += 1
        elif operation in ("pause", "resume"):
            mine.control.set(paused=operation == "pause", reason="", changed_by="oncall", at=NOW)
            paused[who] = operation == "pause"
        assert other.control.get().paused is paused[1 - who]

    for who, mine in enumerate(stores):
        assert {i.fingerprint for i in mine.incidents.active()} == opened[who]
        assert {i.cluster for i in mine.incidents.in_status(IncidentStatus.OPEN)} <= {mine.cluster}
        assert {r.id for r in mine.approvals.list()} == requested[who]
        assert {r.id for r in mine.approvals.list(state=ApprovalState.APPROVED)} == approved[who]
        assert mine.audit.head().seq == records[who] and logs[who].verify().ok
        assert mine.control.get().paused is paused[who]


def test_one_clusters_replica_can_neither_claim_nor_fence_out_anothers_run(store: Store) -> None:
    alpha, beta = store.for_cluster("alpha"), store.for_cluster("beta")
    run = beta.executions.create(action="restart_workload", params={}, target_kind="Deployment", target_name="web")

    assert not alpha.executions.claim_execution(run.id, "scutum-0")  # same pod name, other cluster
    assert beta.executions.claim_execution(run.id, "scutum-0")
    claimed = beta.executions.get(run.id)
    assert claimed is not None and alpha.executions.get(run.id) is None
    assert alpha.executions.take_over(claimed, "scutum-0", restart=True) is None
    with pytest.raises(FencedOut):
        alpha.executions.fenced_step(run.id, "scutum-0", claimed.fence, holds_lease=lambda: True)
    beta.executions.fenced_step(run.id, "scutum-0", claimed.fence, holds_lease=lambda: True)  # still beta's
    assert alpha.executions.unfinished() == [] and [e.id for e in beta.executions.unfinished()] == [run.id]
