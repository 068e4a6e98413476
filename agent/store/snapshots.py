"""Last-known-good history: observed versions of watched objects, with bounded retention.

Implements `actions.base.SnapshotSource`. Secrets are never stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select

from agent.store.database import Database, utc
from agent.store.records import Snapshot
from agent.store.tables import SnapshotRow

REFUSED_KINDS = frozenset({"Secret"})
CONTROLLER_ANNOTATIONS = frozenset({"deployment.kubernetes.io/revision"})


def essence(obj: dict[str, Any]) -> dict[str, Any]:
    """What makes a version different from the last one: identity (uid), labels, annotations and
    everything outside metadata and status. Status updates and bookkeeping are not versions."""
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in CONTROLLER_ANNOTATIONS}
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}
    return {"uid": meta.get("uid"), "labels": meta.get("labels") or {}, "annotations": annotations, **body}


class SnapshotRepository:
    """Versions of objects by (kind, namespace, name) and the time they were observed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, obj: dict[str, Any], *, observed_at: datetime) -> bool:
        """Keep a version of `obj` unless it is a Secret or the newest kept version is the same
        object (same resourceVersion, or the same content: a status update is not a version).

        Returns True when a new version was stored.
        """
        kind = str(obj.get("kind", ""))
        if kind in REFUSED_KINDS:
            raise ValueError("Secrets are never snapshotted")
        meta = obj.get("metadata", {})
        namespace, name = str(meta.get("namespace") or ""), str(meta["name"])
        version = str(meta.get("resourceVersion") or "")
        with self._db.session(write_lock=True) as session:
            newest = session.exec(
                _of(kind, namespace, name).order_by(col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc())
            ).first()
            if newest is not None and (
                (version and newest.resource_version == version) or essence(newest.content) == essence(obj)
            ):
                return False
            session.add(
                SnapshotRow(
                    kind=kind,
                    namespace=namespace,
                    name=name,
                    resource_version=version,
                    content=obj,
                    observed_at=observed_at,
                )
            )
            return True

    def version_before(self, kind: str, namespace: str, name: str, before: datetime) -> dict[str, Any] | None:
        """The newest recorded version of the object taken strictly before `before`, or None."""
        query = _of(kind, namespace, name).where(col(SnapshotRow.observed_at) < before)
        with self._db.session() as session:
            row = session.exec(query.order_by(col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc())).first()
            return dict(row.content) if row else None

    def history(self, kind: str, namespace: str, name: str) -> list[Snapshot]:
        """Every kept version of the object, oldest first."""
        with self._db.session() as session:
            rows = session.exec(_of(kind, namespace, name).order_by(col(SnapshotRow.observed_at), col(SnapshotRow.id)))
            return [_snapshot(r) for r in rows]

    def changed_at(self, kind: str, namespace: str | None, name: str) -> datetime | None:
        """Since when the newest recorded version has been current, when an earlier version is
        kept too (the agent saw it change or be re-created); else None: one version is no change.
        An `agent.planning.changes.ChangeHistory`."""
        query = _of(kind, namespace or "", name).order_by(
            col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc()
        )
        with self._db.session() as session:
            rows = session.exec(query.limit(2)).all()
            return utc(rows[0].observed_at) if len(rows) == 2 else None

    def prune(self, *, keep: int, max_age: timedelta, now: datetime) -> int:
        """Drop versions beyond the newest `keep` of each object and those older than `max_age`;
        the newest version of every object always stays. Returns how many were dropped."""
        doomed: list[int] = []
        with self._db.session(write_lock=True) as session:
            objects = session.exec(
                select(SnapshotRow.kind, SnapshotRow.namespace, SnapshotRow.name).group_by(
                    col(SnapshotRow.kind), col(SnapshotRow.namespace), col(SnapshotRow.name)
                )
            ).all()
            for kind, namespace, name in objects:
                rows = session.exec(
                    _of(kind, namespace, name).order_by(col(SnapshotRow.observed_at).desc(), col(SnapshotRow.id).desc())
                ).all()
                for index, row in enumerate(rows):
                    too_old = index > 0 and utc(row.observed_at) < now - max_age
                    if (index >= keep or too_old) and row.id is not None:
                        doomed.append(row.id)
            if doomed:
                session.connection().execute(delete(SnapshotRow).where(col(SnapshotRow.id).in_(doomed)))
        return len(doomed)

    def count(self) -> int:
        """How many versions are kept in all."""
        with self._db.session() as session:
            return int(session.exec(select(func.count()).select_from(SnapshotRow)).one())


def _of(kind: str, namespace: str, name: str) -> Any:
    return select(SnapshotRow).where(
        SnapshotRow.kind == kind, SnapshotRow.namespace == (namespace or ""), SnapshotRow.name == name
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
