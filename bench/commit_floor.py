"""The disk's floor under every decision: one small SQLite write transaction (WAL, as the store
configures it), timed alone. Decisions commit twice; on a shared or slow disk this floor, not
the decision logic, sets their latency.

    python -m bench.commit_floor [--commits 200]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def measure(commits: int) -> tuple[float, float]:
    """p50 and p99 milliseconds of `commits` one-row write transactions."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-commit-"))
    try:
        db = sqlite3.connect(workdir / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (n INTEGER, body TEXT)")
        spent = []
        for n in range(commits):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 500))
            db.execute("COMMIT")
            spent.append((time.perf_counter() - started) * 1000)
        db.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    spent.sort()
    return spent[len(spent) // 2], spent[min(len(spent) - 1, int(len(spent) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    """Print the floor."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=200)
    args = parser.parse_args(argv)
    p50, p99 = measure(args.commits)
    print(f"one SQLite write transaction: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({args.commits} commits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
