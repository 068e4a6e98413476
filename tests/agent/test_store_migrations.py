"""The migrations create exactly the tables the store's models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import agent.store.tables  # noqa: F401  (registers the tables)
from agent.store import Store


def test_migrated_schema_matches_the_models(store: Store, store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], "the tables changed without a migration: add one under agent/store/migrations/versions"
