"""Benchmark: scoring one proposal from already-probed facts (`risk.assess.assess`).

Run with `python -m bench.risk_bench [--iterations N] [--json]`. Reports microseconds per
call for each situation of the risk test table; scoring must stay well under a millisecond.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from risk.assess import assess
from risk.settings import PolicySettings, RiskSettings
from tests.risk.builders import NOW
from tests.risk.situations import situations

BUDGET_MICROSECONDS = 1000.0
"""A millisecond: the bar every situation must stay well under."""


def measure(iterations: int) -> dict[str, float]:
    """Median microseconds per `assess` call, per situation, over `iterations` calls in 5 rounds."""
    risk, policy = RiskSettings(), PolicySettings()
    results: dict[str, float] = {}
    for case in situations():
        rounds = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(iterations):
                assess(case.proposal, case.facts, risk, policy, now=NOW)
            rounds.append((time.perf_counter() - start) / iterations * 1e6)
        results[case.name] = statistics.median(rounds)
    return results


EXAMPLES = (
    "restart of a 1-replica Deployment",
    "restart of a 10-replica Deployment",
    "drain of a node running 40 pods of 12 workloads",
    "eviction of a pod with emptyDir data",
    "rollback with a revision from before the incident",
    "rollback with no history and no snapshot",
    "a planner claim that contradicts the cluster",
    "restart of a target acted on 5 minutes ago",
)
"""The situations docs/risk-model.md works through."""


def worked_examples() -> str:
    """Markdown for the docs' worked examples, computed by the engine itself."""
    risk, policy = RiskSettings(), PolicySettings()
    lines: list[str] = []
    for case in situations():
        if case.name not in EXAMPLES:
            continue
        score, decision = assess(case.proposal, case.facts, risk, policy, now=NOW)
        lines += [f"### {case.name[0].upper()}{case.name[1:]}", "", "| component | score | reasons |", "|---|---|---|"]
        for component, part in score.components.items():
            reasons = "; ".join(part.reasons) or "-"
            lines.append(f"| {component.value} | {part.score:.3f} | {reasons} |")
        weights = risk.weights.as_mapping()
        mean = sum(weights[c] * s.score for c, s in score.components.items()) / sum(weights.values())
        peak = risk.peak_factor * max(s.score for s in score.components.values())
        lines += [
            "",
            f"weighted mean {mean:.3f}, peak term {risk.peak_factor} x {peak / risk.peak_factor:.3f} = {peak:.3f}"
            f" → **total {score.total:.3f}** → **{decision.verdict.value}**",
            "",
            *(f"- {rule}" for rule in decision.rules),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON) and exit non-zero if any situation exceeds the budget."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000, help="calls per round")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--examples", action="store_true", help="print the docs' worked examples and exit")
    args = parser.parse_args(argv)
    if args.examples:
        print(worked_examples())
        return 0
    results = measure(args.iterations)
    worst = max(results.values())
    if args.json:
        print(json.dumps({"microseconds_per_call": results, "worst": worst, "budget": BUDGET_MICROSECONDS}))
    else:
        width = max(len(name) for name in results)
        for name, micros in results.items():
            print(f"{name:<{width}}  {micros:8.1f} us/call")
        print(f"{'worst':<{width}}  {worst:8.1f} us/call (budget {BUDGET_MICROSECONDS:.0f} us)")
    return 0 if worst < BUDGET_MICROSECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
