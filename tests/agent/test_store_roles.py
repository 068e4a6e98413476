"""PostgreSQL least privilege: the daemon's runtime role writes the chain and the working tables,
but cannot disable the append-only trigger, delete or truncate records, rewind the head, or alter
the functions that move it. Roles are created per test and dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from typer.testing import CliRunner

from agent.audit import AuditKind, AuditLog
from agent.cli import app
from agent.store import Store
from agent.store.roles import RoleError, runtime_grants

pytestmark = pytest.mark.postgres

REFUSALS = [
    "ALTER TABLE audit_records DISABLE TRIGGER USER",
    "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only",
    "DROP TRIGGER audit_records_append_only ON audit_records",
    "DELETE FROM audit_records WHERE seq > 5",
    "TRUNCATE audit_records",
    "UPDATE audit_records SET actor = 'someone else' WHERE seq = 3",
    "UPDATE audit_head SET seq = 5",
    "DELETE FROM audit_head",
    "SELECT scutum_audit_advance_head('default', 5, (SELECT hash FROM audit_records WHERE seq = 5))",
    "SELECT scutum_audit_advance_head('default', 99, 'f00')",
    "SELECT scutum_audit_advance_head('other', 1, (SELECT hash FROM audit_records WHERE seq = 1))",
    "UPDATE audit_records SET cluster = 'other' WHERE seq = 10",
    "CREATE OR REPLACE FUNCTION scutum_audit_advance_head(c varchar, new_seq integer, new_hash varchar) "
    "RETURNS void LANGUAGE sql AS 'SELECT 1'",
    "DROP FUNCTION scutum_audit_advance_head(varchar, integer, varchar)",
    "ALTER FUNCTION scutum_audit_lock_head(varchar) SECURITY INVOKER",
    "DROP TABLE audit_records",
    "UPDATE alembic_version SET version_num = '0001'",
]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def roles(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(owner URL, runtime URL): the schema migrated by the owner, a fresh runtime role granted."""
    role = f"scutum_rt_{uuid4().hex[:10]}"
    with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    owner_host = postgres_url.split("://", 1)[1].split("@", 1)[0]
    runtime_url = postgres_url.replace(f"://{owner_host}@", f"://{role}@", 1)
    try:
        yield postgres_url, runtime_url
    finally:
        with psycopg.connect(_plain(postgres_url), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def _migrate_as_owner(owner_url: str, runtime_url: str) -> None:
    env = {"SCUTUM_DATABASE__URL": runtime_url, "SCUTUM_DATABASE__MIGRATION_URL": owner_url}
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "runtime role" in result.stdout


def test_runtime_role_writes_the_chain_but_cannot_undo_it(roles: tuple[str, str]) -> None:
    owner_url, runtime_url = roles
    _migrate_as_owner(owner_url, runtime_url)
    store = Store.connect(runtime_url)
    try:
        log = AuditLog(store.audit)
        for n in range(10):
            log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n})
        execution = store.executions.create(action="restart_workload", params={}, target_kind="Deployment",
                                            target_name="web")  # fmt: skip
        assert store.executions.claim_execution(execution.id, "replica-1")
        assert store.audit.head().seq == 10 and log.verify().ok
    finally:
        store.close()

    with psycopg.connect(_plain(runtime_url), autocommit=True) as conn:
        for statement in REFUSALS:
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(statement)
            assert isinstance(caught.value, psycopg.errors.InsufficientPrivilege), (statement, caught.value)
        assert conn.execute("SELECT seq FROM audit_head").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM audit_records").fetchone() == (10,)


def test_the_owner_is_refused_as_runtime_role(postgres_url: str) -> None:
    store = Store.connect(postgres_url)
    try:
        store.upgrade()
        owner = postgres_url.split("://", 1)[1].split("@", 1)[0]
        with pytest.raises(RoleError, match="must not be the owner"):
            store.grant_runtime_role(owner)
    finally:
        store.close()


def test_role_names_are_checked_before_they_reach_sql() -> None:
    with pytest.raises(RoleError):
        runtime_grants('x"; DROP TABLE audit_records; --', "public")
