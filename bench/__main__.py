"""`make bench`: every benchmark, one after the other, then docs/benchmarks.md is regenerated."""

from __future__ import annotations

from pathlib import Path

from bench import report, risk_bench, sim_api_bench, soak, storm, suite
from bench.scenarios import SCENARIOS

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
    print("\nsoak")
    soak_result = soak.run(1000, 100)
    DOC.write_text(report.render(suite_results, storm_results) + "\n" + soak.render(soak_result))
    print(f"\nwrote {DOC.name}")


if __name__ == "__main__":
    main()
