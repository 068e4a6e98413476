"""Last-known-good history: observed versions of watched objects, with bounded retention.

Implements `actions.base.SnapshotSource`. Secrets are never stored.

Exactly one version of each object is not `superseded` (the one recorded last), so finding
the newest versions of a batch is an indexed lookup, recording a batch is one transaction, and
retention deletes among the superseded rows alone: its cost follows the history, not the
number of objects kept.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, delete, func, insert, true, update
from sqlalchemy import select as rows_of
from sqlmodel import col, select

from agent.cluster import DEFAULT_CLUSTER
from agent.store.database import Database, utc
from agent.store.records import Snapshot
from agent.store.tables import SnapshotRow

REFUSED_KINDS = frozenset({"Secret"})
CONTROLLER_ANNOTATIONS = frozenset({"deployment.kubernetes.io/revision"})
KEYS_PER_QUERY = 300
"""Objects looked up per statement (three bound parameters each, under SQLite's limit)."""
ObjectKey = tuple[str, str, str]
"""(kind, namespace or "", name)"""


def essence(obj: dict[str, Any]) -> dict[str, Any]:
    """What makes a version different from the last one: identity (uid), labels, annotations and
    everything outside metadata and status. Status updates and bookkeeping are not versions."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in CONTROLLER_ANNOTATIONS}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}
    return {"uid": meta.get("uid"), "labels": meta.get("labels") or {}, "annotations": annotations, **body}


@dataclass
class _Newest:
    """What a batch knows about an object's newest version."""

    id: int | None
    version: str
    content: dict[str, Any] | None = None
    row: dict[str, Any] | None = field(default=None, repr=False)
    """The pending insert, when the newest version is one of this batch."""


def _key_of(obj: dict[str, Any]) -> ObjectKey:
    kind = str(obj.get("kind", ""))
    if kind in REFUSED_KINDS:
        raise ValueError("Secrets are never snapshotted")
    meta = obj.get("metadata", {})
    return kind, str(meta.get("namespace") or ""), str(meta["name"])


class SnapshotRepository:
    """Versions of objects by (kind, namespace, name) and the time they were observed."""

    def __init__(self, db: Database, *, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._cluster = cluster

    def record(self, obj: dict[str, Any], *, observed_at: datetime) -> bool:
        """Keep a version of `obj` unless it is a Secret or the newest kept version is the same
        object (same resourceVersion, or the same content: a status update is not a version).

        Returns True when a new version was stored.
        """
        return self.record_many([(obj, observed_at)]) == 1

    def record_many(self, items: Sequence[tuple[dict[str, Any], datetime]]) -> int:
        """`record` for many objects in one transaction; returns how many versions were new.

        ValueError (and nothing stored) when any of them is a Secret.
        """
        keyed = [(_key_of(obj), obj, observed_at) for obj, observed_at in items]
        if not keyed:
            return 0
        with self._db.session(write_lock=True) as session:
            conn = session.connection()
            newest = _newest(conn, self._cluster, {key for key, _, _ in keyed})
            _load_contents(conn, newest, keyed)
            rows: list[dict[str, Any]] = []
            superseded: list[int] = []
            for key, obj, observed_at in keyed:
                version = str(obj.get("metadata", {}).get("resourceVersion") or "")
                current = newest.get(key)
                if current is not None and (
                    (version and current.version == version)
                    or (current.content is not None and essence(current.content) == essence(obj))
                ):
                    continue
                row = _row(self._cluster, key, version, obj, observed_at)
                if current is not None and current.row is not None:
                    current.row["superseded"] = True
                elif current is not None and current.id is not None:
                    superseded.append(current.id)
                newest[key] = _Newest(None, version, obj, row)
                rows.append(row)
            for chunk in _chunks(superseded, KEYS_PER_QUERY * 3):
                conn.execute(update(SnapshotRow).where(col(SnapshotRow.id).in_(chunk)).values(superseded=True))
            if rows:
                conn.execute(insert(SnapshotRow), rows)
            return len(rows)

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> dict[str, Any] | None:
        """The newest recorded version of the object taken strictly before `before`, or None."""
        query = _of(self._cluster, kind, namespace, name).where(col(SnapshotRow.observed_at) < before)
        with self._db.session() as session:
            row = session.exec(query.order_by(col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc())).first()
            return dict(row.content) if row else None

    def history(self, kind: str, namespace: str, name: str) -> list[Snapshot]:
        """Every kept version of the object, oldest first."""
        with self._db.session() as session:
            rows = session.exec(
                _of(self._cluster, kind, namespace, name).order_by(col(SnapshotRow.observed_at), col(SnapshotRow.id))
            )
            return [_snapshot(r) for r in rows]

    def changed_at(self, kind: str, namespace: str | None, name: str) -> datetime | None:
        """Since when the newest recorded version has been current, when an earlier version is
        kept too (the agent saw it change or be re-created); else None: one version is no change.
        An `agent.planning.changes.ChangeHistory`."""
        query = _of(self._cluster, kind, namespace or "", name).order_by(
            col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc()
        )
        with self._db.session() as session:
            rows = session.exec(query.limit(2)).all()
            return utc(rows[0].observed_at) if len(rows) == 2 else None

    def prune(
        self, *, keep: int, max_age: timedelta, now: datetime, objects: Collection[ObjectKey] | None = None
    ) -> int:
        """Drop versions beyond the newest `keep` of each object and those older than `max_age`;
        the newest version of every object always stays. Returns how many were dropped.

        `objects`: only these objects can have passed `keep` since the last prune (the keeper
        says which it recorded), so only their histories are ranked, through the object index;
        None finds the objects with `keep` superseded versions or more first, by a read of the
        superseded rows' keys (outside the write lock). Then set-based statements in one short
        transaction: the cost follows the history touched, not the number of objects (ranking
        every superseded row at once made SQLite walk the object index over the whole cluster:
        ~90 ms with the write lock held, at 150,000 rows).
        """
        superseded = and_(col(SnapshotRow.cluster) == self._cluster, col(SnapshotRow.superseded) == true())
        names: dict[tuple[str, str], list[str]] = {}
        for kind, namespace, name in sorted(self._crowded(keep) if objects is None else set(objects)):
            names.setdefault((kind, namespace), []).append(name)
        scopes = [
            and_(
                superseded,
                col(SnapshotRow.kind) == kind,
                col(SnapshotRow.namespace) == namespace,
                col(SnapshotRow.name).in_(chunk),
            )
            for (kind, namespace), listed in names.items()
            for chunk in _chunks(listed, KEYS_PER_QUERY * 3)
        ]
        with self._db.session(write_lock=True) as session:
            conn = session.connection()
            aged = conn.execute(delete(SnapshotRow).where(superseded, col(SnapshotRow.observed_at) < now - max_age))
            dropped = int(aged.rowcount or 0)
            for scope in scopes:
                counted = conn.execute(delete(SnapshotRow).where(col(SnapshotRow.id).in_(_beyond(scope, keep))))
                dropped += int(counted.rowcount or 0)
            return dropped

    def _crowded(self, keep: int) -> set[ObjectKey]:
        """Objects with at least `keep` superseded versions (so more than `keep` in all), read
        through the superseded index (ordered by it, so no planner walks the object index)."""
        query = (
            rows_of(col(SnapshotRow.kind), col(SnapshotRow.namespace), col(SnapshotRow.name))
            .where(col(SnapshotRow.cluster) == self._cluster, col(SnapshotRow.superseded) == true())
            .order_by(col(SnapshotRow.superseded), col(SnapshotRow.observed_at))
        )
        counts: dict[ObjectKey, int] = {}
        with self._db.session() as session:
            for kind, namespace, name in session.connection().execute(query):
                key = (kind, namespace, name)
                counts[key] = counts.get(key, 0) + 1
        return {key for key, count in counts.items() if count >= max(keep, 1)}

    def count(self) -> int:
        """How many versions are kept in all."""
        with self._db.session() as session:
            query = select(func.count()).select_from(SnapshotRow).where(SnapshotRow.cluster == self._cluster)
            return int(session.exec(query).one())


def _beyond(scope: ColumnElement[bool], keep: int) -> Select[tuple[int]]:
    """The ids of the superseded rows in `scope` past the newest `keep` versions of their object."""
    ranked = (
        rows_of(
            col(SnapshotRow.id).label("id"),
            func.row_number()
            .over(
                partition_by=(
                    col(SnapshotRow.cluster),
                    col(SnapshotRow.kind),
                    col(SnapshotRow.namespace),
                    col(SnapshotRow.name),
                ),
                order_by=(col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc()),
            )
            .label("position"),
        )
        .where(scope)
        .subquery()
    )
    # position 1 is the newest superseded version, the second newest of its object overall
    return rows_of(ranked.c.id).where(ranked.c.position >= max(keep, 1))


def _row(cluster: str, key: ObjectKey, version: str, obj: dict[str, Any], observed_at: datetime) -> dict[str, Any]:
    kind, namespace, name = key
    return {
        "cluster": cluster,
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "resource_version": version,
        "content": obj,
        "observed_at": observed_at,
        "superseded": False,
    }


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _newest(conn: Connection, cluster: str, keys: set[ObjectKey]) -> dict[ObjectKey, _Newest]:
    """The newest kept version (id, resourceVersion; no content yet) of each object in `keys`.

    Two replicas recording at once can leave an object with two current rows: the older is
    marked superseded here."""
    columns = (
        col(SnapshotRow.id),
        col(SnapshotRow.kind),
        col(SnapshotRow.namespace),
        col(SnapshotRow.name),
        col(SnapshotRow.resource_version),
        col(SnapshotRow.superseded),
    )
    order = (col(SnapshotRow.observed_at), col(SnapshotRow.id))
    # Their rows by the object index (superseded ones are skipped below): one query per (kind,
    # namespace) with a plain IN on names, which both databases serve from the index (a row-value
    # IN over the three columns made SQLite scan the table).
    names: dict[tuple[str, str], list[str]] = {}
    for kind, namespace, name in sorted(keys):
        names.setdefault((kind, namespace), []).append(name)
    queries = [
        rows_of(*columns)
        .where(
            col(SnapshotRow.cluster) == cluster,
            col(SnapshotRow.kind) == kind,
            col(SnapshotRow.namespace) == namespace,
            col(SnapshotRow.name).in_(chunk),
        )
        .order_by(*order)
        for (kind, namespace), listed in names.items()
        for chunk in _chunks(listed, KEYS_PER_QUERY * 3)
    ]
    found: dict[ObjectKey, _Newest] = {}
    stale: list[int] = []
    for query in queries:
        for row_id, kind, namespace, name, version, superseded in conn.execute(query):
            key = (kind, namespace, name)
            if superseded or key not in keys:
                continue
            older = found.get(key)
            if older is not None and older.id is not None:
                stale.append(older.id)
            found[key] = _Newest(row_id, str(version))
    for chunk in _chunks(stale, KEYS_PER_QUERY * 3):
        conn.execute(update(SnapshotRow).where(col(SnapshotRow.id).in_(chunk)).values(superseded=True))
    return found


def _load_contents(
    conn: Connection, newest: dict[ObjectKey, _Newest], keyed: Sequence[tuple[ObjectKey, dict[str, Any], datetime]]
) -> None:
    """Read the content of the newest versions a batch must compare with (those whose
    resourceVersion differs from the one offered); the others need no content."""
    wanted: dict[int, _Newest] = {}
    for key, obj, _ in keyed:
        current = newest.get(key)
        version = str(obj.get("metadata", {}).get("resourceVersion") or "")
        if current is not None and current.id is not None and not (version and current.version == version):
            wanted[current.id] = current
    for chunk in _chunks(sorted(wanted), KEYS_PER_QUERY * 3):
        query = rows_of(col(SnapshotRow.id), col(SnapshotRow.content)).where(col(SnapshotRow.id).in_(chunk))
        for row_id, content in conn.execute(query):
            wanted[int(row_id)].content = dict(content)


def _of(cluster: str, kind: str, namespace: str, name: str) -> Any:
    return select(SnapshotRow).where(
        SnapshotRow.cluster == cluster,
        SnapshotRow.kind == kind,
        SnapshotRow.namespace == (namespace or ""),
        SnapshotRow.name == name,
    )


def _snapshot(row: SnapshotRow) -> Snapshot:
    return Snapshot(
        kind=row.kind,
        namespace=row.namespace,
        name=row.name,
        resource_version=row.resource_version,
        content=dict(row.content),
        observed_at=utc(row.observed_at),
    )
