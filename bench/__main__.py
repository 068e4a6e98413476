"""`make bench`: every benchmark, one after the other, then docs/benchmarks.md is regenerated."""

from __future__ import annotations

from pathlib import Path

from bench import chaos_bench, report, risk_bench, sim_api_bench, storm, suite
from bench.scenarios import SCENARIOS

CHAOS_RUNS = 3
"""Runs of each chaos fault."""
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main() -> None:
    risk_bench.main([])
    sim_api_bench.main([])
    suite.quiet_logs()
    print("\nscenario suite")
    suite_results = suite.run_suite(SCENARIOS)
    print("\nalert storm")
    storm_results = storm.run_sizes([1000, 10_000, 100_000], profile_size=100_000)
    for r in storm_results:
        print(f"{r.alerts:>7} alerts  {r.alerts_per_second:>9.0f} alerts/s  p99 decision {r.decide_p99_ms:.1f} ms")
    print("\nchaos")
    chaos_results = chaos_bench.main(["--runs", str(CHAOS_RUNS)])
    chaos_section = "\n".join(chaos_bench.section(chaos_results, runs=CHAOS_RUNS))
    DOC.write_text(report.render(suite_results, storm_results).rstrip("\n") + "\n\n" + chaos_section)
    print(f"\nwrote {DOC.name}")


if __name__ == "__main__":
    main()
