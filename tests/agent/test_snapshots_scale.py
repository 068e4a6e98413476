"""The snapshot store and keeper at size: one transaction per batch, pruning among superseded
versions only, a keeper that reads what changed (behaviour only; timings are in bench/)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from agent.keeper import SnapshotKeeper
from agent.store import Store
from agent.store.database import Database
from agent.store.migrate import upgrade
from agent.store.snapshots import SnapshotRepository
from tests.agent.conftest import FakeClock

Obj = dict[str, Any]


def _deployment(name: str, version: str, image: str, *, namespace: str = "shop") -> Obj:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version, "uid": f"uid-{name}"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    }


@pytest.fixture
def engine(store: Store, store_url: str) -> Iterator[Engine]:
    """A second engine on the migrated database, to watch the transactions a repository runs."""
    engine = create_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _commits(engine: Engine) -> list[int]:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    return commits


def _superseded(engine: Engine, name: str) -> list[bool]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT superseded FROM object_snapshots WHERE name = :name ORDER BY observed_at, id"), {"name": name}
        )
        return [bool(flag) for (flag,) in rows]


def test_a_batch_of_versions_is_one_transaction(engine: Engine, clock: FakeClock) -> None:
    snapshots = SnapshotRepository(Database(engine))
    commits = _commits(engine)
    batch = [(_deployment(f"app-{i}", "1", "app:1"), clock.now) for i in range(1500)]
    assert snapshots.record_many(batch) == 1500
    assert len(commits) == 1
    assert snapshots.record_many(batch) == 0, "the same versions again are no new versions"
    changed = [(_deployment("app-7", "2", "app:2"), clock.now + timedelta(minutes=1))]
    status_only = [(_deployment("app-8", "2", "app:1"), clock.now + timedelta(minutes=1))]
    assert snapshots.record_many(changed + status_only) == 1
    assert snapshots.count() == 1501
    assert _superseded(engine, "app-7") == [True, False]
    assert _superseded(engine, "app-8") == [False]


def test_one_object_twice_in_a_batch_keeps_both_versions_in_order(engine: Engine, clock: FakeClock) -> None:
    snapshots = SnapshotRepository(Database(engine))
    snapshots.record(_deployment("web", "1", "web:1"), observed_at=clock.now)
    later = clock.now + timedelta(minutes=1)
    batch = [(_deployment("web", "2", "web:2"), later), (_deployment("web", "3", "web:3"), later)]
    assert snapshots.record_many(batch) == 2
    assert [s.resource_version for s in snapshots.history("Deployment", "shop", "web")] == ["1", "2", "3"]
    assert _superseded(engine, "web") == [True, True, False]


def test_a_secret_in_a_batch_stores_nothing(engine: Engine, clock: FakeClock) -> None:
    snapshots = SnapshotRepository(Database(engine))
    secret = {"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}}
    with pytest.raises(ValueError, match="Secrets"):
        snapshots.record_many([(_deployment("web", "1", "web:1"), clock.now), (secret, clock.now)])
    assert snapshots.count() == 0


def test_prune_leaves_old_single_versions_and_trims_histories(engine: Engine, clock: FakeClock) -> None:
    snapshots = SnapshotRepository(Database(engine))
    long_ago = clock.now - timedelta(days=90)
    snapshots.record_many([(_deployment(f"still-{i}", "1", "x:1"), long_ago) for i in range(50)])
    for version in range(1, 7):
        snapshots.record(_deployment("busy", str(version), f"b:{version}"), observed_at=clock.now)
    snapshots.record(_deployment("aged", "1", "a:1"), observed_at=long_ago)
    snapshots.record(_deployment("aged", "2", "a:2"), observed_at=clock.now)

    dropped = snapshots.prune(keep=3, max_age=timedelta(days=7), now=clock.now)

    assert dropped == 3 + 1
    assert [s.resource_version for s in snapshots.history("Deployment", "shop", "busy")] == ["4", "5", "6"]
    assert [s.resource_version for s in snapshots.history("Deployment", "shop", "aged")] == ["2"]
    assert snapshots.count() == 50 + 3 + 1, "objects that never changed keep their only version, however old"
    assert snapshots.prune(keep=3, max_age=timedelta(days=7), now=clock.now) == 0


def test_the_migration_marks_every_version_but_the_newest_superseded(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        upgrade(engine, "0001")
        insert = text(
            "INSERT INTO object_snapshots (kind, namespace, name, resource_version, content, observed_at) "
            "VALUES ('Deployment', 'shop', :name, :rv, '{}', :at)"
        )
        with engine.begin() as conn:
            for name, rv, hour in (("web", "1", 1), ("web", "2", 3), ("web", "3", 2), ("api", "1", 1)):
                conn.execute(insert, {"name": name, "rv": rv, "at": datetime(2026, 1, 1, hour)})
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, resource_version, superseded FROM object_snapshots ORDER BY id"))
            flags = {(name, rv): bool(flag) for name, rv, flag in rows}
        assert flags == {("web", "1"): True, ("web", "2"): False, ("web", "3"): True, ("api", "1"): False}
    finally:
        engine.dispose()


class FeedReader:
    """A reader with a change feed; listing would be a cluster-wide read, so it fails the test."""

    def __init__(self, objects: list[Obj]) -> None:
        self.changes: list[Obj] = list(objects)

    def change(self, obj: Obj) -> None:
        self.changes.append(obj)

    def changed_since(
        self, kind: str, cursor: int, *, limit: int | None = None
    ) -> tuple[builtins.list[Obj], int] | None:
        picked = [(n, o) for n, o in enumerate(self.changes[cursor:], cursor + 1) if o["kind"] == kind][:limit]
        return [o for _, o in picked], (picked[-1][0] if picked else cursor)

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        raise AssertionError("the keeper reads the change feed, not single objects")

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        raise AssertionError("the keeper reads the change feed, not single objects")

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        raise AssertionError("the keeper must not list the cluster when the cache can say what changed")


def test_the_keeper_records_what_changed_and_nothing_else(store: Store, clock: FakeClock) -> None:
    reader = FeedReader(
        [
            _deployment("web", "1", "web:1"),
            _deployment("api", "1", "api:1"),
            _deployment("x", "1", "x:1", namespace="o"),
        ]
    )
    keeper = SnapshotKeeper(
        store, reader, namespaces=["shop"], clock=clock, retention_count=3, retention_age_seconds=86400
    )
    assert keeper.resync() == 2, "the unmanaged namespace is not kept"
    assert keeper.resync() == 0
    reader.change(_deployment("web", "2", "web:2"))
    assert keeper.resync() == 1
    assert [s.resource_version for s in store.snapshots.history("Deployment", "shop", "web")] == ["1", "2"]
    assert keeper.live_lists == 0


class SteppedFeed(FeedReader):
    """A change feed that records the limit of each read and what it handed out at once."""

    def __init__(self, objects: list[Obj]) -> None:
        super().__init__(objects)
        self.reads: list[tuple[str, int | None, int]] = []

    def changed_since(
        self, kind: str, cursor: int, *, limit: int | None = None
    ) -> tuple[builtins.list[Obj], int] | None:
        found = super().changed_since(kind, cursor, limit=limit)
        assert found is not None
        self.reads.append((kind, limit, len(found[0])))
        return found


def test_the_first_pass_walks_everything_in_bounded_steps(store: Store, clock: FakeClock) -> None:
    reader = SteppedFeed([_deployment(f"web-{i}", "1", "web:1") for i in range(7)])
    keeper = SnapshotKeeper(
        store, reader, namespaces=["shop"], clock=clock, retention_count=3, retention_age_seconds=86400, step=3
    )
    assert keeper.resync() == 7
    deployments = [(limit, n) for kind, limit, n in reader.reads if kind == "Deployment"]
    assert deployments == [(3, 3), (3, 3), (3, 1)]
    assert keeper.resync() == 0
    reader.change(_deployment("web-2", "2", "web:2"))
    assert keeper.resync() == 1
    assert store.snapshots.count() == 8


def _versions(store: Store, name: str) -> list[str]:
    return [s.resource_version for s in store.snapshots.history("Deployment", "shop", name)]


def test_prune_ranks_the_histories_of_the_objects_recorded_since_the_last_one(store: Store, clock: FakeClock) -> None:
    # Before the keeper starts, another writer (an earlier process) left "old" over the bound:
    # the first prune looks at every history; later ones only at what this keeper recorded.
    for version in range(1, 6):
        store.snapshots.record(_deployment("old", str(version), f"o:{version}"), observed_at=clock.now)
    reader = FeedReader([_deployment("web", "1", "web:1")])
    keeper = SnapshotKeeper(
        store, reader, namespaces=["shop"], clock=clock, retention_count=2, retention_age_seconds=1e6
    )
    keeper.resync()
    assert keeper.prune() == 3 and _versions(store, "old") == ["4", "5"]

    for version in range(6, 9):
        store.snapshots.record(_deployment("old", str(version), f"o:{version}"), observed_at=clock.now)
    for version in range(2, 5):
        reader.change(_deployment("web", str(version), f"web:{version}"))
    keeper.resync()
    assert keeper.prune() == 2
    assert _versions(store, "web") == ["3", "4"]
    assert _versions(store, "old") == ["4", "5", "6", "7", "8"], (
        "not recorded by this keeper: left for the next full prune"
    )


def test_a_prune_that_fails_keeps_its_objects_for_the_next(store: Store, clock: FakeClock) -> None:
    reader = FeedReader([_deployment("web", "1", "web:1")])
    keeper = SnapshotKeeper(
        store, reader, namespaces=["shop"], clock=clock, retention_count=1, retention_age_seconds=1e6
    )
    keeper.resync()
    keeper.prune()
    reader.change(_deployment("web", "2", "web:2"))
    keeper.resync()
    real = store.snapshots.prune

    def failing(**kwargs: Any) -> int:
        raise RuntimeError("database is down")

    store.snapshots.prune = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        keeper.prune()
    store.snapshots.prune = real  # type: ignore[method-assign]
    assert keeper.prune() == 1 and _versions(store, "web") == ["2"]
