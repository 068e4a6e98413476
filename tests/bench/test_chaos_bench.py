"""The chaos benchmark's table: one row per fault, the counts that must be 0, the failover time."""

from __future__ import annotations

from bench.chaos_bench import SCENARIOS, FaultResult, Trial, section


def test_every_fault_of_the_issue_is_benchmarked() -> None:
    names = " ".join(SCENARIOS)
    for fault in ("dry run", "after the write", "verification", "SIGTERM", "503", "429", "reset", "frozen leader"):
        assert fault in names


def test_section_sums_the_counts_and_takes_the_median_failover() -> None:
    frozen = FaultResult(
        "frozen leader",
        [
            Trial("frozen leader", failover_seconds=1.0),
            Trial("frozen leader", failover_seconds=3.0, non_leader_writes=1),
        ],
    )
    clean = FaultResult("503", [Trial("503"), Trial("503", error="timed out")])
    lines = section([frozen, clean], runs=2)
    assert "| frozen leader | 2 | 0 | 1 | 0 | 0 | 0 | 2.0 |" in lines
    assert "| 503 | 2 | 0 | 0 | 0 | 0 | 1 | - |" in lines
