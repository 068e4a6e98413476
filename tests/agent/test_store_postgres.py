"""PostgreSQL-only behaviour: exclusive claims under concurrency, the append-only trigger,
and one valid audit chain from many writers (threads and processes)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from agent.audit import AuditKind, AuditLog
from agent.store import ExecutionState, Store

pytestmark = pytest.mark.postgres

KEY = b"pg-audit-key"


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    store = Store.connect(postgres_url)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_claim_is_exclusive_under_concurrency(pg_store: Store) -> None:
    executions = [
        pg_store.executions.create(action="restart_workload", params={}, target_kind="Deployment", target_name=f"w{n}")
        for n in range(5)
    ]
    replicas = [f"replica-{n}" for n in range(8)]
    start = threading.Barrier(len(replicas))

    def race(owner: str) -> list[str]:
        start.wait()
        return [e.id for e in executions if pg_store.executions.claim_execution(e.id, owner)]

    with ThreadPoolExecutor(len(replicas)) as pool:
        won = list(pool.map(race, replicas))

    claimed = [execution_id for ids in won for execution_id in ids]
    assert sorted(claimed) == sorted(e.id for e in executions)
    for execution in executions:
        stored = pg_store.executions.get(execution.id)
        assert stored is not None
        assert stored.state is ExecutionState.CLAIMED
        assert execution.id in won[replicas.index(stored.claimed_by or "")]


def test_claim_skips_a_row_locked_by_another_replica(pg_store: Store, postgres_url: str) -> None:
    execution = pg_store.executions.create(
        action="evict_pod", params={}, target_kind="Pod", target_name="p", target_namespace="shop"
    )
    with psycopg.connect(_psycopg_dsn(postgres_url)) as other:
        other.execute("SELECT id FROM executions WHERE id = %s FOR UPDATE", (execution.id,))
        # The other replica holds the row lock: we skip it at once instead of waiting.
        assert pg_store.executions.claim_execution(execution.id, "replica-b") is False
        other.rollback()
    assert pg_store.executions.claim_execution(execution.id, "replica-b") is True


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET actor = 'attacker' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
        "TRUNCATE audit_records",
    ],
)
def test_trigger_rejects_changes_to_audit_records(pg_store: Store, postgres_url: str, statement: str) -> None:
    AuditLog(pg_store.audit).append(AuditKind.CONTROL, actor="oncall", payload={"action": "pause"})

    with psycopg.connect(_psycopg_dsn(postgres_url)) as raw, pytest.raises(psycopg.Error, match="append-only"):
        raw.execute(statement)

    assert AuditLog(pg_store.audit).verify().ok


def test_concurrent_threads_keep_one_valid_chain(pg_store: Store) -> None:
    log = AuditLog(pg_store.audit, key=KEY)
    start = threading.Barrier(6)

    def write(worker: int) -> None:
        start.wait()
        for n in range(15):
            log.append(AuditKind.RISK, actor=f"thread-{worker}", payload={"n": n})

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))

    report = log.verify()
    assert report.ok, report.describe()
    assert report.count == 90


def _write_from_process(url: str, worker: int, count: int) -> None:
    store = Store.connect(url)
    log = AuditLog(store.audit, key=KEY)
    for n in range(count):
        log.append(AuditKind.API_CALL, actor=f"process-{worker}", payload={"n": n})
    store.close()


def test_concurrent_processes_keep_one_valid_chain(pg_store: Store, postgres_url: str) -> None:
    context = multiprocessing.get_context("fork")  # spawn would re-import the product per process
    processes = [context.Process(target=_write_from_process, args=(postgres_url, w, 20)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]

    report = AuditLog(pg_store.audit, key=KEY).verify()
    assert report.ok, report.describe()
    assert report.count == 60
    actors = {r.actor for r in pg_store.audit.records()}
    assert actors == {"process-0", "process-1", "process-2"}
