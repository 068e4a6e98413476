"""Action-space coverage of the scenario catalogue: `risk.coverage` over the suite's results.

Each scenario counts as one incident named by its fault class; the action is the first the
agent ran (none for abstentions, whose reason is the suite's category).

    python -m bench.suite --json suite.json
    python -m bench.coverage suite.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from risk.coverage import CoverageReport, coverage_of


def catalogue_coverage(results: list[dict[str, Any]]) -> CoverageReport:
    """Coverage over suite results (the JSON `bench.suite --json` writes)."""
    cases = []
    for result in results:
        action = result["actions"][0].split()[0] if result["actions"] else None
        cases.append((result["fault_class"], action, f"{result['expect']}: {result['category']}"))
    return coverage_of(cases)


def markdown(report: CoverageReport) -> list[str]:
    """The coverage section of docs/benchmarks.md."""
    lines = [
        f"{report.incidents} scenarios; {report.share_addressed:.0%} addressed by one of the nine actions; "
        f"{report.no_fit} with no action (all of them scenarios where acting is wrong).",
        "",
        "| action | scenarios | share | coverage with the best k |",
        "|---|---|---|---|",
    ]
    for point in report.curve:
        action = point.actions[-1]
        count = report.addressed.get(action, 0)
        lines.append(f"| {action} | {count} | {count / report.incidents:.0%} | k={point.k}: {point.share:.0%} |")
    return lines


def section(results: list[dict[str, Any]]) -> str:
    """The docs/benchmarks.md section, from the suite's results."""
    intro = [
        "",
        "## Action-space coverage of the scenario catalogue",
        "",
        "Command: `python -m bench.suite --json suite.json && python -m bench.coverage suite.json` (part of "
        "`make bench`). Each scenario counts once, by the first action the agent ran; the marginal column is the "
        "share covered by the k most used actions (`risk/coverage.py`, the same code as `scutum report coverage`).",
        "The catalogue was written to exercise every action, so this shows what it tests, not what a cluster needs.",
        "",
    ]
    return "\n".join([*intro, *markdown(catalogue_coverage(results)), ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite_json", type=Path)
    args = parser.parse_args(argv)
    print("\n".join(markdown(catalogue_coverage(json.loads(args.suite_json.read_text(encoding="utf-8"))))))


if __name__ == "__main__":
    main()
