"""`make bench`: the benchmarks, one after the other; the sections of docs/benchmarks.md they
produce are regenerated (the others are left as they were).

    python -m bench [--only micro suite owners storm webhook cluster history drift flood console soak chaos fleet]
                    [--storm-sizes ...] [--cluster-sizes ...] [--audit-lengths ...] [--approvals N] [--database-url URL]

`make bench BENCH_ARGS="..."` passes the options. The defaults run everything at the sizes the
page reports, except the 50,000-Deployment cluster (add `--cluster-sizes 100 1000 10000 50000`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    chaos_bench,
    cluster_size,
    console_bench,
    coverage,
    drift,
    fleet,
    flood,
    history_bench,
    http_storm,
    owners,
    report,
    report_scale,
    risk_bench,
    sim_api_bench,
    soak,
    storm,
    suite,
)
from bench.scenarios import SCENARIOS

CHAOS_RUNS = 3
"""Runs of each chaos fault."""
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
PARTS = (
    "micro",
    "suite",
    "owners",
    "storm",
    "webhook",
    "cluster",
    "history",
    "drift",
    "flood",
    "console",
    "soak",
    "chaos",
    "fleet",
)
FLEET_AGENTS = (1, 4, 16)
FLEET_DECISIONS = 150
"""Decisions per agent in the fleet section."""
CHAOS_RUNS = 3
"""Runs of each fault in the chaos section."""


def main(argv: list[str] | None = None) -> None:
    """Run the chosen parts and rewrite their sections of the page."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--storm-sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--cluster-sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--audit-lengths", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--approvals", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        help="the cluster-size runs on this PostgreSQL (a schema of its own per size) instead of SQLite; own section",
    )
    args = parser.parse_args(argv)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = report.machine()
    page = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    sections: dict[str, list[str]] = {}
    if "micro" in args.only:
        risk_bench.main([])
        sim_api_bench.main([])
    suite.quiet_logs()
    if "suite" in args.only:
        print("\nscenario suite")
        suite_results = suite.run_suite(SCENARIOS)
        sections["suite"] = report.suite_section(suite_results)
        sections["coverage"] = coverage.section([asdict(r) for r in suite_results]).strip("\n").splitlines()
    if "owners" in args.only:
        print("\nowner scenarios")
        started = time.perf_counter()
        owner_results = owners.run_all()
        sections["owners"] = owners.section(owner_results, seconds=time.perf_counter() - started)
    if "drift" in args.only:
        print("\ndrift signals (generated histories)")
        sections["drift"] = drift.section(100).strip("\n").splitlines()
    if "storm" in args.only:
        print("\nalert storm")
        results = storm.run_sizes(args.storm_sizes, profile_size=max(args.storm_sizes))
        for r in results:
            print(f"{r.alerts:>7} alerts  {r.alerts_per_second:>9.0f} alerts/s  p99 decision {r.decide_p99_ms:.1f} ms")
        sections["storm"] = report.storm_section(results)
    if "webhook" in args.only:
        print("\nHTTP storm through scutum run")
        webhook = http_storm.run()
        sections["http-storm"] = (
            http_storm.render(webhook, command="python -m bench --only webhook", when=when, machine=machine)
            .strip("\n")
            .splitlines()
        )
        print(f"{webhook.ingested_per_second:,.0f} alerts/s ingested, x{webhook.ratio_to_floor:.1f} the parse floor")
    if "cluster" in args.only:
        print("\ncluster size")
        sizes = []
        for size in args.cluster_sizes:
            sizes.append(cluster_size.run_size(size, database_url=args.database_url))
            print(cluster_size.describe(sizes[-1]), flush=True)
        name = "cluster-postgresql" if args.database_url and args.database_url.startswith("postgres") else "cluster"
        sections[name] = report_scale.cluster_section(sizes, when=when, machine=machine)
    if "history" in args.only:
        print("\nhistory commands")
        verified = history_bench.measure_verify(args.audit_lengths)
        approvals = history_bench.measure_approvals(args.approvals) if args.approvals else None
        sections["history"] = report_scale.history_section(verified, approvals, when=when, machine=machine)
    if "flood" in args.only:
        print("\nflood")
        sections["flood"] = flood.render(flood.run(), command="python -m bench --only flood").strip("\n").splitlines()
    if "console" in args.only:
        print("\nconsole pages")
        sections["console"] = console_bench.render(console_bench.main([]), incidents=10_000)
    if "soak" in args.only:
        print("\nsoak")
        sections["soak"] = soak.render(soak.run(1000, 100)).strip("\n").splitlines()
    if "chaos" in args.only:
        print("\nchaos")
        chaos_results = chaos_bench.main(["--runs", str(CHAOS_RUNS)])
        sections["chaos"] = chaos_bench.section(chaos_results, runs=CHAOS_RUNS)
    if "fleet" in args.only:
        print("\nfleet on one PostgreSQL")
        dsn = args.database_url if args.database_url and args.database_url.startswith("postgresql://") else None
        fleet_results = []
        for agents in FLEET_AGENTS:
            fleet_results.append(fleet.run_fleet(agents, FLEET_DECISIONS, dsn=dsn or fleet.DEFAULT_DSN))
            print(f"{agents:>3} agents  {fleet_results[-1].decisions_per_second:.1f} decisions/s", flush=True)
        sections["fleet"] = fleet.section(fleet_results, decisions=FLEET_DECISIONS, when=when, machine=machine)
    DOC.write_text(report_scale.replace_sections(page, sections))
    print(f"\nrewrote {', '.join(sections) or 'no'} sections of {DOC.name}")


if __name__ == "__main__":
    main()
