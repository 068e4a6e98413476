"""Engines and transactions for SQLite (embedded default) and PostgreSQL (several replicas)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another writer before giving up."""


def build_engine(url: str, *, connect_timeout: int = 5, statement_timeout: float = 15.0) -> Engine:
    """An engine for `url`; SQLite gets WAL mode, a busy timeout and explicit BEGIN handling;
    PostgreSQL a connect timeout and a statement timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": connect_timeout})
    milliseconds = int(statement_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SET, not the `options` connect argument: the URL may carry its own options (search_path).
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {milliseconds}")
        cursor.close()
        dbapi_connection.commit()

    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock early.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write_lock") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """An engine plus the transaction shapes the repositories need."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._joined = threading.local()
        self._writers = threading.RLock() if self.dialect == "sqlite" else None
        """On SQLite, this process's writers queue here for the one write lock: the next one gets
        it the moment it is released, where SQLite's own busy wait sleeps in growing steps (up to
        100 ms) and so keeps a decision waiting well past the end of a keeper pass."""

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL, where row locks and advisory locks exist."""
        return self.dialect == "postgresql"

    @contextmanager
    def session(self, *, write_lock: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success.

        Every session that writes passes `write_lock=True`: SQLite then takes its write lock at
        BEGIN (waiting up to the busy timeout), where a deferred transaction that reads first
        would fail with "database is locked" when another writer got in between.
        """
        joined: Connection | None = getattr(self._joined, "conn", None)
        if joined is not None:  # inside `transaction()`: part of its one commit
            with Session(bind=joined) as session:
                yield session
                session.flush()
            return
        with self._queued(write_lock), self.engine.connect() as conn:
            conn.execution_options(write_lock=write_lock)
            with conn.begin(), Session(bind=conn) as session:
                yield session
                session.flush()

    @contextmanager
    def _queued(self, write: bool) -> Iterator[None]:
        """A writer's turn in this process's queue (SQLite), waited for no longer than SQLite's
        own busy timeout: past it, SQLite's lock decides as it did before the queue existed."""
        held = write and self._writers is not None and self._writers.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            yield
        finally:
            if held and self._writers is not None:
                self._writers.release()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction that every `session()` on this thread joins until it ends: the
        records of one decision, say, in one commit. Work that must not run inside it (network
        calls, handing rows to other threads) goes to `after_commit`. Nested calls join too."""
        if getattr(self._joined, "conn", None) is not None:
            yield
            return
        callbacks: list[Callable[[], None]] = []
        with self._queued(True), self.engine.connect() as conn:
            conn.execution_options(write_lock=True)
            with conn.begin():
                self._joined.conn, self._joined.after = conn, callbacks
                try:
                    yield
                finally:
                    self._joined.conn = self._joined.after = None
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this thread's `transaction()` has committed (dropped if it rolls
        back); at once when no transaction is open."""
        pending: list[Callable[[], None]] | None = getattr(self._joined, "after", None)
        if pending is None:
            callback()
        else:
            pending.append(callback)


def utc(value: datetime) -> datetime:
    """A timestamp read back from the database as an aware UTC datetime (SQLite drops the zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    """`utc` for optional timestamps."""
    return None if value is None else utc(value)
