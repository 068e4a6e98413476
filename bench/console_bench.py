"""Benchmark: console page latency with a large store (10,000 incidents by default).

Run with `python -m bench.console_bench [--incidents N] [--requests N] [--json]`. Seeds a
SQLite store (incidents with proposals and verdicts, their audit records, pending approvals),
then requests each page through the console's ASGI app in process and reports p50 and p99 in
milliseconds. The target is p99 under 100 ms for every page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session
from starlette.testclient import TestClient

from actions.base import ActionName
from agent.app import approvals_audit, audit_log, settle_heap, utc_now
from agent.audit import AuditEntry, AuditKind
from agent.control import KillSwitch
from agent.refusals import RefusalLog
from agent.settings import Settings, load_settings
from agent.store import Store
from agent.store.tables import DecisionRow, IncidentRow, ProposalRow
from approvals.authz import ApproverPolicy
from approvals.model import ApprovalRequest, Target
from approvals.queue import ApprovalQueue
from console.app import ConsoleDeps, build_console

TARGET_P99_MS = 100.0
COMMAND = "python -m bench.console_bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACES = ("shop", "pay", "batch", "search", "auth")
ACTIONS = ("rollback_workload", "restart_workload", "scale_workload", "set_resources", None)
VERDICTS = ("approve", "execute", "deny", "execute", None)
PENDING = 50
HEADER = "X-Forwarded-User"
USER = "bench@example.org"


@dataclass(frozen=True)
class PageResult:
    """Latency of one page over many requests."""

    page: str
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int


def _settings(data_dir: Path) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "console": base.console.model_copy(
                update={"enabled": True, "identity_header": HEADER, "trusted_proxies": ["testclient"]}
            ),
            "approvals": base.approvals.model_copy(update={"console_approvers": (USER,)}),
        }
    )


def _incident_rows(n: int) -> list[Any]:
    """Incident n with, for four in five, a proposal and its decision."""
    incident_id = f"inc-{n:06d}"
    namespace = NAMESPACES[n % len(NAMESPACES)]
    started = START + timedelta(seconds=30 * n)
    alert = {"name": "KubePodNotReady", "labels": {"namespace": namespace, "pod": f"web-{n}"}, "annotations": {}}
    rows: list[Any] = [
        IncidentRow(
            id=incident_id,
            fingerprint=f"fp{n:06d}",
            alert_name="KubePodNotReady",
            namespace=namespace,
            status="resolved" if n % 3 else "escalated",
            started_at=started,
            updated_at=started,
            alerts=[alert],
        )
    ]
    action, verdict = ACTIONS[n % len(ACTIONS)], VERDICTS[n % len(VERDICTS)]
    if action is not None and verdict is not None:
        components = {c: {"score": 0.3, "reasons": ["bench"]} for c in ("blast_radius", "reversibility")}
        rows.append(
            ProposalRow(
                id=f"p-{n:06d}",
                incident_id=incident_id,
                action=action,
                params={"namespace": namespace, "name": "web"},
                target_kind="Deployment",
                target_namespace=namespace,
                target_name="web",
                claims={},
                planner="runbook",
                created_at=started,
            )
        )
        rows.append(
            DecisionRow(
                id=f"d-{n:06d}",
                proposal_id=f"p-{n:06d}",
                verdict=verdict,
                risk_total=0.42,
                components=components,
                rules=["bench"],
                created_at=started,
            )
        )
    return rows


def seed(store: Store, settings: Settings, incidents: int) -> ConsoleDeps:
    """Fill the store and return the console's dependencies over it."""
    engine = store._db.engine  # bulk rows in one transaction: seeding is not what is measured
    rows = [row for n in range(incidents) for row in _incident_rows(n)]
    with Session(engine) as session:
        for table in (IncidentRow, ProposalRow, DecisionRow):  # parents before children
            session.add_all([row for row in rows if isinstance(row, table)])
            session.flush()
        session.commit()
    audit = audit_log(settings, store)
    kinds = (AuditKind.INCIDENT, AuditKind.PLAN, AuditKind.RISK, AuditKind.DECISION, AuditKind.ESCALATION)
    entries = [
        AuditEntry(kind, "scutum", {"bench": n, "alerts": ["KubePodNotReady"]}, f"inc-{n:06d}")
        for n in range(incidents)
        for kind in kinds
    ]
    for start in range(0, len(entries), 2000):
        audit.append_many(entries[start : start + 2000])
    queue = ApprovalQueue(
        store.approvals,
        settings.approvals,
        policy=ApproverPolicy(settings.approvals),
        audit=approvals_audit(audit),
    )
    now = datetime.now(UTC)
    for n in range(PENDING):
        store.approvals.create(
            ApprovalRequest(
                id=f"req-{n:04d}",
                incident_id=f"inc-{n:06d}",
                incident_summary="KubePodNotReady on Deployment shop/web",
                action=ActionName.RESTART_WORKLOAD,
                params={"namespace": "shop", "name": "web", "kind": "Deployment"},
                target=Target(kind="Deployment", namespace="shop", name="web"),
                risk={"score": 0.5, "components": {}},
                threshold=0.3,
                required_approvals=1,
                created_at=now,
                deadline=now + timedelta(hours=1),
            )
        )
    return ConsoleDeps(settings, store, audit, queue, KillSwitch(store, audit), RefusalLog(audit, clock=utc_now))


def pages(incidents: int) -> dict[str, str]:
    """The pages measured, by name."""
    middle = f"inc-{incidents // 2:06d}"
    return {
        "incidents (newest)": "/",
        "incidents (namespace + verdict)": "/?namespace=pay&verdict=approve",
        "incidents (action)": "/?action=set_resources",
        "incident": f"/incidents/{middle}",
        "approvals (50 pending)": "/approvals",
        "evidence": "/evidence",
        "audit record": f"/evidence/records/{incidents * 2}",
        "reports": "/reports",
    }


def measure(incidents: int, requests: int) -> list[PageResult]:
    """Seed a store with `incidents` and time `requests` GETs of each page (after a warm-up)."""
    with tempfile.TemporaryDirectory(prefix="scutum-console-bench-") as tmp:
        settings = _settings(Path(tmp))
        store = Store.connect(settings.database_url())
        store.upgrade()
        try:
            client = TestClient(build_console(seed(store, settings, incidents)))
            settle_heap()  # as `scutum run` does once the daemon is up
            results = []
            for name, path in pages(incidents).items():
                for _ in range(5):
                    assert client.get(path, headers={HEADER: USER}).status_code == 200, path
                samples = []
                for _ in range(requests):
                    start = time.perf_counter()
                    response = client.get(path, headers={HEADER: USER})
                    samples.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200
                samples.sort()
                results.append(
                    PageResult(
                        name, statistics.median(samples), _quantile(samples, 0.95), _quantile(samples, 0.99), requests
                    )
                )
            client.close()
            return results
        finally:
            store.close()


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def render(results: list[PageResult], *, incidents: int) -> list[str]:
    """The console section of docs/benchmarks.md."""
    lines = [
        "## Console pages",
        "",
        f"`{COMMAND} --incidents {incidents}` (bench/console_bench.py): a SQLite store with {incidents:,} incidents",
        f"(four in five with a proposal and verdict), {incidents * 5:,} audit records and {PENDING} pending approvals;",
        "each page requested through the console's ASGI app in process, as a signed-in approver.",
        f"Target: p99 under {TARGET_P99_MS:.0f} ms. Measured with {os.cpu_count()} CPUs at load average",
        f"{os.getloadavg()[0]:.1f} (a shared machine: the tail includes scheduling stalls).",
        "",
        "| page | p50 ms | p95 ms | p99 ms | requests |",
        "|---|---:|---:|---:|---:|",
    ]
    lines.extend(f"| {r.page} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.requests} |" for r in results)
    return lines


def main(argv: list[str]) -> list[PageResult]:
    """Measure and print (plain, --json, or --markdown for docs/benchmarks.md)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="Print the docs/benchmarks.md section.")
    args = parser.parse_args(argv)
    results = measure(args.incidents, args.requests)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
    elif args.markdown:
        print("\n".join(render(results, incidents=args.incidents)))
    else:
        print(f"console pages with {args.incidents} incidents ({args.requests} requests each)")
        for r in results:
            flag = "" if r.p99_ms < TARGET_P99_MS else "  OVER TARGET"
            print(f"  {r.page:<34} p50 {r.p50_ms:6.1f} ms  p95 {r.p95_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms{flag}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
