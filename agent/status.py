"""`scutum status`: the state that matters, read from the store (never from a process's memory),
so any replica or an operator's shell shows the same answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.store import ClusterSummary, ControlState, IncidentStatus, ReplicaReport, Store
from agent.store.records import ACTIVE_INCIDENT_STATES
from approvals.model import ApprovalState


@dataclass(frozen=True)
class StatusReport:
    """The kill switch, the replicas, pending approvals and incidents by status."""

    control: ControlState
    replicas: tuple[ReplicaReport, ...]
    pending_approvals: int
    incidents: dict[IncidentStatus, int]

    @property
    def leader(self) -> ReplicaReport | None:
        """The replica that last reported leading (the newest such report)."""
        return next((r for r in self.replicas if r.leading), None)

    @property
    def open_incidents(self) -> int:
        """Incidents still open or in hand (what operational pressure counts)."""
        return sum(n for status, n in self.incidents.items() if status in ACTIVE_INCIDENT_STATES)

    def as_json(self) -> dict[str, Any]:
        """The `--json` form."""
        control = self.control
        return {
            "paused": control.paused,
            "paused_by": control.changed_by if control.paused else None,
            "reason": control.reason if control.paused else None,
            "since": control.changed_at.isoformat() if control.changed_at else None,
            "leader": self.leader.identity if self.leader else None,
            "pending_approvals": self.pending_approvals,
            "open_incidents": self.open_incidents,
            "incidents": {status.value: n for status, n in sorted(self.incidents.items())},
            "replicas": [_replica_json(r) for r in self.replicas],
        }

    def lines(self) -> list[str]:
        """The human form, one fact per line."""
        control = self.control
        since = control.changed_at.isoformat(timespec="seconds") if control.changed_at else "never changed"
        if control.paused:
            switch = f"PAUSED by {control.changed_by} since {since}: {control.reason}"
        else:
            switch = (
                f"running (kill switch off{', last resumed by ' + control.changed_by if control.changed_by else ''})"
            )
        leader = self.leader
        lines = [
            f"kill switch        {switch}",
            f"leader             {leader.identity if leader else 'none reported'}",
            f"pending approvals  {self.pending_approvals}",
            f"open incidents     {self.open_incidents}",
        ]
        for replica in self.replicas:
            lines.append(f"replica {replica.identity}: {_poll_text(replica)}")
        return lines


@dataclass(frozen=True)
class FleetStatus:
    """`scutum status --all-clusters`: one row per cluster of a shared store."""

    this_cluster: str
    clusters: tuple[ClusterSummary, ...]

    def as_json(self) -> dict[str, Any]:
        """The `--json` form."""
        return {
            "this_cluster": self.this_cluster,
            "clusters": [
                {
                    "cluster": c.cluster,
                    "leader": c.leader,
                    "leader_reported_at": c.leader_seen_at.isoformat() if c.leader_seen_at else None,
                    "paused": c.paused,
                    "open_incidents": c.open_incidents,
                    "pending_approvals": c.pending_approvals,
                    "last_decision_at": c.last_decision_at.isoformat() if c.last_decision_at else None,
                    "chain_head": {"seq": c.head.seq, "hash": c.head.hash},
                }
                for c in self.clusters
            ],
        }

    def lines(self) -> list[str]:
        """A table, this agent's own cluster marked with `*`."""
        rows = [("CLUSTER", "LEADER", "OPEN", "PENDING", "LAST DECISION", "CHAIN HEAD")]
        for c in self.clusters:
            name = f"{c.cluster}{' (paused)' if c.paused else ''}{' *' if c.cluster == self.this_cluster else ''}"
            decided = c.last_decision_at.isoformat(timespec="seconds") if c.last_decision_at else "-"
            head = f"{c.head.seq}:{c.head.hash[:12]}" if c.head.seq else "0"
            rows.append((name, c.leader or "-", str(c.open_incidents), str(c.pending_approvals), decided, head))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def read_fleet_status(store: Store) -> FleetStatus:
    """Every cluster's row, read from the shared store (a fleet-wide read)."""
    return FleetStatus(this_cluster=store.cluster, clusters=tuple(store.fleet.summaries()))


def read_status(store: Store) -> StatusReport:
    """Read the status from the store (this agent's cluster)."""
    return StatusReport(
        control=store.control.get(),
        replicas=tuple(store.replicas.list()),
        pending_approvals=len(store.approvals.list(state=ApprovalState.PENDING)),
        incidents=store.incidents.count_by_status(),
    )


def _replica_json(replica: ReplicaReport) -> dict[str, Any]:
    return {
        "identity": replica.identity,
        "leading": replica.leading,
        "reported_at": replica.updated_at.isoformat(),
        "last_poll": {
            "at": replica.polled_at.isoformat() if replica.polled_at else None,
            "ok": replica.poll_ok,
            "detail": replica.poll_detail,
        },
    }


def _poll_text(replica: ReplicaReport) -> str:
    role = "leader" if replica.leading else "standby"
    if replica.polled_at is None:
        return f"{role}, no poll yet (reported {replica.updated_at.isoformat(timespec='seconds')})"
    result = "ok" if replica.poll_ok else "FAILED"
    return f"{role}, last poll {replica.polled_at.isoformat(timespec='seconds')} {result}: {replica.poll_detail}"
