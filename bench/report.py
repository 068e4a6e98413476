"""Writes docs/benchmarks.md from the suite's and the storm's results."""

from __future__ import annotations

import itertools
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

from bench.storm import StormResult
from bench.suite import ScenarioResult

SUITE_COMMAND = "python -m bench.suite --json suite.json"
STORM_COMMAND = "python -m bench.storm --sizes 1000 10000 100000 --json storm.json"
ALL_COMMAND = "make bench"
REFERENCES = """\
Published figures for LLM agents on the public benchmarks, for scale only. They are not the same
task: those agents investigate free-form with a shell and choose any fix, on real clusters;
Scutum picks from nine typed actions with runbook rules, on a simulated cluster, and its
scenarios were written by the same team that wrote its runbook. Read the 100% above with that in
mind: it shows the loop works end to end on these fault classes, not that the problem is solved.

- AIOpsLab (arXiv:2501.06706): mitigation success of the evaluated agents ranged from 0% to
  55%, as summarised by secondary sources; not checked against the paper here.
- ITBench (arXiv:2502.05352): agents resolved 11.4% of SRE scenarios (13.8% for GPT-4o in
  another version), as summarised by secondary sources; not checked against the paper here.
- Published times to mitigate for either benchmark were not found, so none are quoted.
"""


def machine() -> str:
    """nproc, memory and Python version of this machine."""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        memory = f", {int(first[1]) / 1024 / 1024:.1f} GiB memory"
    return f"{os.cpu_count()} CPUs{memory}, Python {platform.python_version()} on {platform.system()}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _wall(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def suite_section(results: Sequence[ScenarioResult]) -> list[str]:
    """Totals and the per-scenario table."""
    fix = [r for r in results if r.expect == "fix"]
    abstain = [r for r in results if r.expect == "abstain"]
    mitigated = [r for r in fix if r.category == "mitigated"]
    wrong = [r for r in results if r.category == "wrong_action"]
    abstained = [r for r in abstain if r.category == "correct_abstention"]
    sim_times = [r.sim_to_mitigate for r in mitigated if r.sim_to_mitigate is not None]
    wall_times = [r.wall_to_mitigate for r in mitigated if r.wall_to_mitigate is not None]
    lines = [
        "## Scenario suite (closed loop)",
        "",
        f"Command: `{SUITE_COMMAND}` (part of `{ALL_COMMAND}`).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| scenarios | {len(results)} ({len(fix)} need a fix, {len(abstain)} hard negatives and controls) |",
        f"| mitigation success | {len(mitigated)}/{len(fix)} ({_share(len(mitigated), len(fix))}) |",
        f"| wrong actions (acted and not fixed, or acted where it should not) | {len(wrong)}/{len(results)} |",
        f"| correct abstentions | {len(abstained)}/{len(abstain)} |",
        f"| missed (no action, not fixed) | {sum(r.category == 'missed' for r in fix)} |",
        f"| errors | {sum(r.category == 'error' for r in results)} |",
        f"| fault never took effect (scenario proves nothing; counted as not mitigated) | "
        f"{sum(r.category == 'no_effect' for r in fix)} |",
        f"| time to mitigate, median (simulated s, first alert firing → verified fix) | "
        f"{_seconds(median(sim_times)) if sim_times else '-'} |",
        f"| time to mitigate, median (wall s, first poll with an alert → verified fix) | "
        f"{_wall(median(wall_times)) if wall_times else '-'} |",
        f"| whole suite, wall | {sum(r.wall_seconds for r in results):.0f} s |",
        "",
        "| scenario | fault class | expected | result | actions | time to mitigate (sim s / wall s) | "
        "still wrong at the end |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        actions = "; ".join(r.actions) or "none"
        left = "; ".join(r.problems[:3]) or "-"
        if r.error:
            left = r.error
        lines.append(
            f"| {r.name} | {r.fault_class} | {r.expect} | {r.category} | {actions} | "
            f"{_seconds(r.sim_to_mitigate)} / {_wall(r.wall_to_mitigate)} | {left} |"
        )
    return [*lines, "", REFERENCES]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def storm_section(results: Sequence[StormResult]) -> list[str]:
    """The figures per size, ratios between sizes, and the profile of the largest."""
    lines = [
        "## Alert storm",
        "",
        f"Command: `{STORM_COMMAND}` (part of `{ALL_COMMAND}`); each size in its own process, never under",
        "a profiler (the profile below comes from one more, separate run). The alerts are generated before",
        "any clock starts; the floor is the same batches only parsed and validated (`parse_gettable_alerts`).",
        "Shadow mode, 5 labels per alert, intake and decisions called in-process (no HTTP, no JSON); about",
        "nine in ten incidents escalate without a probe (no recent change on their target): the cluster-size",
        "section below measures decisions that do read the cluster.",
        "",
        "| measure | " + " | ".join(f"{r.alerts:,} alerts" for r in results) + " | target |",
        "|---|" + "---|" * len(results) + "---|",
    ]
    rows: list[tuple[str, list[str], str]] = [
        ("batches of 100 (one per simulated second)", [f"{r.batches}" for r in results], ""),
        ("decisions (new incidents decided)", [f"{r.decisions}" for r in results], ""),
        (
            "alerts ingested per second (parse, validate, dedup, group)",
            [f"{r.alerts_per_second:,.0f}" for r in results],
            "≥ 2,000",
        ),
        (
            "floor: alerts only parsed and validated, per second",
            [f"{r.floor_alerts_per_second:,.0f}" for r in results],
            "",
        ),
        (
            "intake time / floor time (parse + validate + dedup + group vs parse + validate)",
            [f"{r.ingest_seconds / r.floor_seconds:.2f}x" for r in results],
            "",
        ),
        (
            "whole run (decisions included) / floor time",
            [f"{r.total_seconds / r.floor_seconds:,.0f}x" for r in results],
            "",
        ),
        ("decisions per second", [f"{r.decisions_per_second:,.0f}" for r in results], ""),
        (
            "one decision alone, p50 / p99 ms",
            [f"{r.decide_p50_ms:.1f} / {r.decide_p99_ms:.1f}" for r in results],
            "p99 < 50",
        ),
        (
            "alert arrival → decision, p50 / p99 ms (waits behind its batch)",
            [f"{r.p50_ms:.0f} / {r.p99_ms:.0f}" for r in results],
            "",
        ),
        ("Kubernetes API requests (cache lists and watches included)", [f"{r.api_requests}" for r in results], ""),
        ("API requests per decision", [f"{r.api_requests_per_decision:.3f}" for r in results], "≤ 2"),
        (
            "RSS before the storm / peak, MB (cluster and the pre-generated alerts included)",
            [f"{r.rss_before_mb:.0f} / {r.peak_rss_mb:.0f}" for r in results],
            "< 300 at 100k",
        ),
        ("whole run, s", [f"{r.total_seconds:.1f}" for r in results], ""),
    ]
    lines += [f"| {name} | " + " | ".join(values) + f" | {target} |" for name, values, target in rows]
    lines += ["", "Growth between sizes (x10 alerts each step):", ""]
    for small, large in itertools.pairwise(results):
        lines.append(
            f"- {small.alerts:,} → {large.alerts:,}: alerts x{large.alerts / small.alerts:.0f}, "
            f"pipeline time x{large.total_seconds / small.total_seconds:.1f}, "
            f"decisions x{large.decisions / max(small.decisions, 1):.1f}, "
            f"peak RSS x{large.peak_rss_mb / small.peak_rss_mb:.2f}"
        )
    profiled = [r for r in results if r.profile]
    if profiled:
        lines += [
            "",
            f"Where the time goes at {profiled[-1].alerts:,} alerts (cProfile, cumulative, top functions; a separate,",
            "untimed run):",
            "",
            "```",
            profiled[-1].profile,
            "```",
        ]
    return lines


def render(suite: Sequence[ScenarioResult], storm: Sequence[StormResult], *, when: datetime | None = None) -> str:
    """The whole page."""
    moment = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Benchmarks",
        "",
        f"Generated by `{ALL_COMMAND}` (bench/report.py) on {moment}; machine: {machine()}.",
        "Every figure below comes from that run; the command that produced it is beside it.",
        "",
    ]
    return "\n".join([*head, *suite_section(suite), "", *storm_section(storm), ""])
