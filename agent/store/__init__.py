"""The agent's store: the only package that imports sqlmodel.

`Store.connect(url)` gives typed repositories returning plain records; `Store.upgrade()`
brings the schema to the newest migration. SQLite (embedded default) and PostgreSQL
(several replicas) behave the same; the test suite runs on both.

A store is opened for one cluster (`cluster=`, "default" when not given): every repository
writes that cluster on its rows and reads only that cluster's, so many agents, one per cluster,
share one database without seeing each other's incidents, approvals, runs or audit chain. The
only reads across clusters are `Store.fleet` and `Store.for_cluster` (docs/fleet.md).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from agent.cluster import DEFAULT_CLUSTER, cluster_name
from agent.store import migrate, roles
from agent.store.approval_requests import SqlApprovalRepository
from agent.store.audit_kinds import AuditKindIndex
from agent.store.audit_rows import AuditRepository
from agent.store.autonomy_grants import AutonomyGrantRepository
from agent.store.browse import BrowseRepository
from agent.store.channel_messages import ChannelMessageRepository
from agent.store.control_state import ControlRepository
from agent.store.database import Database, build_engine
from agent.store.executions import ExecutionRepository, FencedOut
from agent.store.fleet import ClusterSummary, FleetReader
from agent.store.history import StoreActionHistory
from agent.store.incident_work import IncidentWork, IncidentWorkReader
from agent.store.incidents import IncidentRepository
from agent.store.outcome_rows import DecisionRows, OutcomeRows
from agent.store.records import (
    AuditHead,
    AuditLink,
    AuditRecord,
    ControlState,
    DecisionRecord,
    Execution,
    ExecutionState,
    IllegalTransition,
    Incident,
    IncidentStatus,
    ProposalRecord,
    Snapshot,
)
from agent.store.replicas import ReplicaReport, ReplicaRepository
from agent.store.snapshots import SnapshotRepository

__all__ = [
    "AuditHead",
    "AuditLink",
    "AuditRecord",
    "ClusterSummary",
    "ControlState",
    "DecisionRecord",
    "DecisionRows",
    "Execution",
    "ExecutionState",
    "FencedOut",
    "IllegalTransition",
    "Incident",
    "IncidentStatus",
    "IncidentWork",
    "ProposalRecord",
    "ReplicaReport",
    "Snapshot",
    "Store",
]


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """One database and its repositories, scoped to one cluster."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _now, cluster: str = DEFAULT_CLUSTER) -> None:
        self._db = db
        self._clock = clock
        self.cluster = cluster_name(cluster)
        """The cluster every repository below reads and writes."""
        self.url = db.engine.url.render_as_string(hide_password=True)
        self.incidents = IncidentRepository(db, clock, cluster=cluster)
        """Incidents, proposals and decisions."""
        self.executions = ExecutionRepository(db, clock, cluster=cluster)
        """Action runs and their claims."""
        self.snapshots = SnapshotRepository(db, cluster=cluster)
        """Last-known-good object history (an `actions.base.SnapshotSource`)."""
        self.control = ControlRepository(db, cluster=cluster)
        """The kill switch (this cluster's)."""
        self.audit = AuditRepository(db, cluster=cluster)
        """This cluster's audit chain storage (use agent.audit.AuditLog to write and verify)."""
        self.audit_kinds = AuditKindIndex(db, cluster=cluster)
        """Audit records of one kind (checkpoint keys)."""
        self.approvals = SqlApprovalRepository(db, cluster=cluster)
        """Approval requests and votes (an `approvals.model.ApprovalRepository`), and the votes
        relayed between clusters (an `approvals.queue.VoteRelay`)."""
        self.channel_messages = ChannelMessageRepository(db)
        """Where requests are shown on chats other than Slack (an `approvals.model.MessageRefs`);
        keyed by request ids, unique across the fleet."""
        self.replicas = ReplicaRepository(db, cluster=cluster)
        """Each replica's last report (leadership, last poll)."""
        self.work = IncidentWorkReader(db, cluster=cluster)
        """What each incident has in hand (its requests and executions)."""
        self.history = StoreActionHistory(self.executions, self.incidents, self.control)
        """Recent actions, open incidents, kill switch (a `risk.sources.ActionHistory`)."""
        self.autonomy = AutonomyGrantRepository(db, cluster=cluster)
        """Earned autonomy per (action, namespace, alert) (a `risk.autonomy.GrantSource`)."""
        self.outcomes = OutcomeRows(db, cluster=cluster)
        """Read-only queries behind `scutum report` (decisions and what followed them)."""
        self.browse = BrowseRepository(db, cluster=cluster)
        """Read-only pages of incidents and audit records (the console)."""
        self.fleet = FleetReader(db)
        """Reads across every cluster of the store (status and verify of the whole fleet)."""

    def for_cluster(self, cluster: str) -> Store:
        """The same database scoped to another cluster (same connection pool): for explicit
        fleet-wide work such as verifying every cluster's chain."""
        return Store(self._db, clock=self._clock, cluster=cluster)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] = _now,
        connect_timeout: int = 5,
        statement_timeout: float = 15.0,
        cluster: str = DEFAULT_CLUSTER,
    ) -> Store:
        """A store on `url` (sqlite:///FILE or postgresql+psycopg://...) for `cluster`; no I/O
        until first use."""
        engine = build_engine(url, connect_timeout=connect_timeout, statement_timeout=statement_timeout)
        return cls(Database(engine), clock=clock, cluster=cluster)

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._db.dialect

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction that the repositories' writes on this thread join (one commit)."""
        return self._db.transaction()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after this thread's `transaction()` commits (at once outside one)."""
        self._db.after_commit(callback)

    def upgrade(self) -> None:
        """Apply every pending migration."""
        migrate.upgrade(self._db.engine)

    def grant_runtime_role(self, role: str) -> None:
        """As the owner (PostgreSQL): give `role` the daemon's limited privileges (agent.store.roles)."""
        roles.grant_runtime_role(self._db.engine, role)

    def ping(self) -> None:
        """One round trip to the database (readiness); raises when it is unreachable."""
        with self._db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        """Release the connection pool."""
        self._db.engine.dispose()
