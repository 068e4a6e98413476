"""History commands at size: `scutum audit verify` over 100k and 1M records, and one page of
`scutum approvals list` over 100k requests.

Each chain is written once (in batches, a real hash chain through `AuditLog`), then verified
in a fresh interpreter so its peak RSS is the verification's own; records per second and peak
RSS are reported per length (peak RSS that does not grow with the chain is the point). The
approval requests are inserted in bulk, with a vote on every other one; a page is read the way
the command reads it (in-process, median of 5), and the command itself is timed end to end.

    python -m bench.history_bench [--audit 100000 1000000] [--approvals 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from agent.app import audit_log, heap_set_aside, open_store
from agent.audit import AuditEntry, AuditKind
from agent.cli import settings_from
from agent.store.tables import ApprovalRequestRow, ApprovalVoteRow

WRITE_BATCH = 20_000
VERIFY_RUNS = 3
"""Verifications per chain, each in a fresh interpreter; the median run is reported."""
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class VerifyResult:
    """One chain length's verification."""

    records: int
    seconds: float
    records_per_second: float
    peak_rss_mb: float
    ok: bool


@dataclass
class ApprovalsResult:
    """One page of approval requests out of many."""

    requests: int
    page_size: int
    page_ms_median: float
    """The command's read (requests, then one read of their votes), in-process."""
    last_page_ms_median: float
    command_seconds: float
    """`scutum approvals list --all --limit N --page P` end to end (interpreter start included)."""


def _write_chain(data_dir: Path, count: int) -> None:
    settings = settings_from(None, data_dir)
    store = open_store(settings)
    moment = [START]

    def clock() -> datetime:
        moment[0] += timedelta(milliseconds=10)
        return moment[0]

    log = audit_log(settings, store, clock=clock)
    payload = {"verdict": "escalate", "rules": ["no recent change"], "shadow": False, "labels": {"app": "web"}}
    for start in range(0, count, WRITE_BATCH):
        entries = [
            AuditEntry(AuditKind.DECISION, "scutum", {**payload, "n": n}, f"inc-{n // 5}")
            for n in range(start, min(count, start + WRITE_BATCH))
        ]
        log.append_many(entries)
    store.close()


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike ru_maxrss, which keeps the peak of
    the process that forked us when that was larger)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verify_one(data_dir: Path) -> VerifyResult:
    """Verify the chain in `data_dir` in this process (for `measure_verify`)."""
    settings = settings_from(None, data_dir)
    store = open_store(settings)
    started = time.perf_counter()
    with heap_set_aside():  # as `scutum audit verify` runs it
        report = audit_log(settings, store).verify()
    seconds = time.perf_counter() - started
    store.close()
    peak = _peak_rss_mb()
    return VerifyResult(report.count, seconds, report.count / seconds if seconds else 0.0, peak, report.ok)


def measure_verify(lengths: list[int]) -> list[VerifyResult]:
    """Write each chain, then verify it in a fresh interpreter (`VERIFY_RUNS` times, the median kept)."""
    results = []
    for length in lengths:
        workdir = Path(tempfile.mkdtemp(prefix="scutum-audit-"))
        try:
            _write_chain(workdir, length)
            runs = []
            for _ in range(VERIFY_RUNS):
                done = subprocess.run(
                    [sys.executable, "-m", "bench.history_bench", "--verify-one", str(workdir)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(VerifyResult(**json.loads(done.stdout.strip().splitlines()[-1])))
            results.append(sorted(runs, key=lambda run: run.seconds)[len(runs) // 2])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def _request_row(n: int) -> dict[str, Any]:
    created = START + timedelta(seconds=n)
    return {
        "id": f"req-{n:07d}",
        "incident_id": f"inc-{n:07d}",
        "incident_summary": "KubePodCrashLooping on Deployment shop/cart",
        "action": "restart_workload",
        "params": {"kind": "Deployment", "namespace": "shop", "name": "cart"},
        "target_kind": "Deployment",
        "target_name": "cart",
        "target_namespace": "shop",
        "risk": {"score": 0.42, "components": {}},
        "threshold": 0.3,
        "required_approvals": 1,
        "requested_by": None,
        "state": "expired" if n % 3 else "pending",
        "created_at": created,
        "deadline": created + timedelta(minutes=15),
        "updated_at": None,
        "slack_channel": None,
        "slack_ts": None,
        "result": None,
        "undo_available": False,
    }


def measure_approvals(count: int, *, page_size: int = 100) -> ApprovalsResult:
    """Insert `count` requests in bulk, then time a middle and the last page."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-approvals-"))
    try:
        settings = settings_from(None, workdir)
        store = open_store(settings)
        with store._db.engine.begin() as conn:  # bulk seeding, not the path being measured
            for start in range(0, count, WRITE_BATCH):
                rows = [_request_row(n) for n in range(start, min(count, start + WRITE_BATCH))]
                conn.execute(insert(ApprovalRequestRow), rows)
                votes = [
                    {"request_id": r["id"], "approver": "U01", "decision": "approve", "channel": "cli", "at": START}
                    for r in rows[::2]
                ]
                conn.execute(insert(ApprovalVoteRow), votes)
        pages = count // page_size
        timings: dict[int, list[float]] = {pages // 2: [], pages - 1: []}
        for page, spent in timings.items():
            for _ in range(5):
                started = time.perf_counter()
                store.approvals.page(state=None, limit=page_size, offset=page * page_size)
                spent.append((time.perf_counter() - started) * 1000)
        store.close()
        scutum = Path(sys.executable).with_name("scutum")
        started = time.perf_counter()
        command = [str(scutum), "approvals", "list", "--all", "--json", "--data-dir", str(workdir)]
        command += ["--limit", str(page_size), "--page", str(pages // 2)]
        subprocess.run(command, check=True, capture_output=True)
        command_seconds = time.perf_counter() - started
        return ApprovalsResult(
            requests=count,
            page_size=page_size,
            page_ms_median=statistics.median(timings[pages // 2]),
            last_page_ms_median=statistics.median(timings[pages - 1]),
            command_seconds=command_seconds,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Measure and print (or verify one chain, for `measure_verify`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audit", type=int, nargs="*", default=[100_000, 1_000_000], help="chain lengths")
    parser.add_argument("--approvals", type=int, default=100_000, help="requests in the store (0: skip)")
    parser.add_argument("--verify-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    if args.verify_one:
        print(json.dumps(asdict(verify_one(args.verify_one))))
        return 0
    verified = measure_verify(args.audit)
    for v in verified:
        print(
            f"audit verify {v.records:>9,} records  {v.seconds:6.1f} s  {v.records_per_second:>9,.0f} records/s  "
            f"peak RSS {v.peak_rss_mb:.0f} MB  ok={v.ok}"
        )
    approvals = measure_approvals(args.approvals) if args.approvals else None
    if approvals:
        print(
            f"approvals list {approvals.requests:,} requests: page of {approvals.page_size} "
            f"{approvals.page_ms_median:.1f} ms (last page {approvals.last_page_ms_median:.1f} ms), "
            f"command {approvals.command_seconds:.2f} s"
        )
    if args.json:
        out = {"verify": [asdict(v) for v in verified], "approvals": asdict(approvals) if approvals else None}
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
