"""Fixtures for the agent's tests: a fake clock and a migrated store on SQLite and PostgreSQL.

PostgreSQL tests get a fresh schema each, dropped afterwards. When the server is unreachable
they skip with a message saying what to start, unless CI=true, where they fail.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from agent.settings import ci_required
from agent.store import Store

POSTGRES_USERS = ("postgres", "root")
"""Trust-auth roles tried in order: Debian's default superuser, then the CI container's root."""
POSTGRES_HELP = (
    "PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres or root, database test, trust auth). "
    "Install it (apt-get install postgresql) and start it "
    "(pg_ctlcluster --skip-systemctl-redirect <version> main start), or run bash .ci/run."
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _dsn(user: str) -> str:
    return f"postgresql://{user}@127.0.0.1:5432/test"


@functools.cache
def _postgres_user() -> tuple[str | None, str]:
    """The first role that connects, or None and why none did."""
    problem = ""
    for user in POSTGRES_USERS:
        try:
            with psycopg.connect(_dsn(user), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            problem = f"{exc.__class__.__name__}: {str(exc).strip()[:200]}"
            continue
        return user, ""
    return None, problem


def require_postgres() -> None:
    """Skip (or under CI=true, fail) when PostgreSQL is not reachable."""
    user, problem = _postgres_user()
    if user is not None:
        return
    if ci_required():
        pytest.fail(f"CI=true requires PostgreSQL: {POSTGRES_HELP} ({problem})")
    pytest.skip(f"{POSTGRES_HELP} ({problem})")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL on a fresh PostgreSQL schema, dropped after the test."""
    require_postgres()
    user = _postgres_user()[0]
    schema = f"scutum_test_{uuid4().hex[:12]}"
    with psycopg.connect(_dsn(str(user)), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_dsn(str(user)), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL on a SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'scutum.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on both databases."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    """A migrated store on each database, with the fake clock."""
    store = Store.connect(store_url, clock=clock)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()
