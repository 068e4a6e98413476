"""The size sections of docs/benchmarks.md (cluster size, history commands), and replacing one
section of the page without touching the others: a pass that ran only some benchmarks
regenerates only their sections."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from bench.cluster_size import SizeResult
from bench.history_bench import ApprovalsResult, VerifyResult

CLUSTER_COMMAND = "python -m bench.cluster_size --sizes {sizes} --json cluster.json"
HISTORY_COMMAND = "python -m bench.history_bench --audit {lengths} --approvals {approvals} --json history.json"


def _marker(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_sections(page: str, sections: Mapping[str, Sequence[str]]) -> str:
    """`page` with each named section's text replaced (appended at the end when new)."""
    for name, lines in sections.items():
        start, end = _marker(name)
        body = "\n".join([start, *lines, end])
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
        found = pattern.search(page)
        page = page[: found.start()] + body + page[found.end() :] if found else page.rstrip() + "\n\n" + body
    return page if page.endswith("\n") else page + "\n"


def _row(name: str, values: Sequence[str], target: str = "") -> str:
    return f"| {name} | " + " | ".join(values) + f" | {target} |"


def cluster_section(results: Sequence[SizeResult], *, when: str, machine: str) -> list[str]:
    """Start-up, memory, idle CPU, decision latency and API requests per cluster size."""
    sizes = " ".join(str(r.deployments) for r in results)
    database = results[0].database if results else "sqlite"
    head = [
        "## Cluster size" + (f" ({database})" if database != "sqlite" else ""),
        "",
        f"Command: `{CLUSTER_COMMAND.format(sizes=sizes)}{' --database-url URL' if database != 'sqlite' else ''}`, "
        f"run on {when} ({machine}; a machine shared with other",
        "work, so absolute times are noisy: compare within the table). The simulated cluster runs in its own",
        "process; every figure is the agent's own. Each Deployment has a ReplicaSet, a Pod, a ConfigMap and a",
        f"Service; store: {database}. Decisions are in shadow mode (decided and",
        "recorded, nothing run); one alert per decision, 12 labels and 3 annotations; half the targets had a",
        "bad rollout minutes before (a rollback is proposed and probed), half are healthy (escalated).",
        "",
        "| measure | " + " | ".join(f"{r.deployments:,} Deployments" for r in results) + " | target |",
        "|---|" + "---|" * len(results) + "---|",
    ]
    rows = [
        _row("objects in the cluster (kept kinds)", [f"{r.cluster_objects:,}" for r in results]),
        _row("simulated cluster built and settled, s (not the agent)", [f"{r.seed_seconds:.0f}" for r in results]),
        _row("agent start-up to ready, s", [f"{r.startup_seconds:.1f}" for r in results], "≤ 5 at 10k"),
        _row("objects in the watch cache", [f"{r.cached_objects:,}" for r in results]),
        _row("RSS at ready, MB", [f"{r.rss_ready_mb:.0f}" for r in results], "≤ 250 at 10k"),
        _row("RSS growth per cached object, KB", [f"{r.kb_per_cached_object:.1f}" for r in results]),
        _row("idle CPU, % of a core (30 s, scheduled jobs running)", [f"{r.idle_cpu_percent:.1f}" for r in results],
             "≤ 2"),
        _row("alert → verdict p50 / p99, ms", [f"{r.decide_p50_ms:.1f} / {r.decide_p99_ms:.1f}" for r in results],
             "p99 ≤ 50"),
        _row("alert → verdict p99 during keeper resync + prune, ms (decisions overlapping a pass)",
             [f"{r.keeper_decide_p99_ms:.1f} ({r.keeper_decisions})" for r in results], "≤ 50"),
        _row("keeper passes during those decisions / longest pass, ms (50 ConfigMaps changed each)",
             [f"{r.keeper_passes} / {r.keeper_pass_max_ms:.0f}" for r in results]),
        _row("snapshot versions kept", [f"{r.snapshots:,}" for r in results]),
        _row("API requests of one executed action: re-check + execute + one verify read",
             [f"{r.action}: {r.recheck_requests} + {r.execute_requests} + {r.verify_requests}" for r in results],
             "no namespace-wide lists"),
    ]  # fmt: skip
    growth = []
    for small, large in itertools.pairwise(results):
        factor = large.deployments / small.deployments
        growth.append(
            f"- {small.deployments:,} → {large.deployments:,} (x{factor:.0f}): start-up "
            f"x{large.startup_seconds / max(small.startup_seconds, 1e-9):.1f}, RSS above the process's base "
            f"x{(large.rss_ready_mb - large.rss_before_mb) / max(small.rss_ready_mb - small.rss_before_mb, 1e-9):.1f}, "
            f"decision p50 x{large.decide_p50_ms / max(small.decide_p50_ms, 1e-9):.2f}"
        )
    notes = ["", "Growth between sizes:", "", *growth, ""] if growth else [""]
    notes += [
        "The re-check reads the target and its history live (the ReplicaSets it owns, by the Deployment's",
        "label selector); the PodDisruptionBudgets and HorizontalPodAutoscalers that apply come from the",
        "watch cache (`risk.sources.RecheckReader`), so no request lists a namespace; execute is the dry run",
        "and the write; verification polls one read until the rollout settles.",
        "A decision's floor is the store's commits (two per decision): `python -m bench.commit_floor` times one",
        "SQLite write transaction alone on the same disk; on a shared disk it takes milliseconds, and a WAL",
        "checkpoint now and then much longer, which is most of what the percentiles above show.",
        "",
        "The watch cache keeps each object as deflated JSON against a dictionary per kind (`risk.compact`),",
        "its namespace, node, owner and label indexes beside it; a read decodes only what it returns, and the",
        "last 1,024 read stay decoded: that is the RSS growth per cached object above (RSS read after",
        "`settle_heap`, which hands the memory start-up freed back to the system). Start-up is the cache's",
        "first lists (two kinds at a time, taken undecoded, `Kube.list_json`) and the keeper's first pass,",
        "recorded in steps of 1,000 objects, one transaction each, each step's lookups served by the snapshot",
        "index (cluster, kind, namespace, name). A prune ranks only the histories of the objects recorded",
        "since the last one: ranking every superseded row made SQLite walk the object index over the whole",
        "cluster, 50 to 100 ms at 50,000 Deployments with the write lock held, which is what decisions",
        "overlapping a pass waited for. On PostgreSQL each size runs in a schema of its own, from empty.",
    ]
    return [*head, *rows, *notes]


def history_section(
    verified: Sequence[VerifyResult], approvals: ApprovalsResult | None, *, when: str, machine: str
) -> list[str]:
    """`audit verify` per chain length and one `approvals list` page."""
    lengths = " ".join(str(v.records) for v in verified)
    command = HISTORY_COMMAND.format(lengths=lengths, approvals=approvals.requests if approvals else 0)
    lines = [
        "## History commands",
        "",
        f"Command: `{command}`, run on {when} ({machine}). Each chain is verified three times, each in a",
        "fresh process, the median run shown (peak RSS is that process's VmHWM: interpreter and imports included).",
        "",
        "| chain length | seconds | records/s | peak RSS, MB | intact |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {v.records:,} | {v.seconds:.1f} | {v.records_per_second:,.0f} | {v.peak_rss_mb:.0f} | {v.ok} |"
        for v in verified
    ]
    if len(verified) > 1:
        first, last = verified[0], verified[-1]
        lines += [
            "",
            f"x{last.records / first.records:.0f} records: time x{last.seconds / first.seconds:.1f}, "
            f"peak RSS x{last.peak_rss_mb / first.peak_rss_mb:.2f} (the chain is streamed in pages of plain rows).",
        ]
    if approvals:
        lines += [
            "",
            f"`scutum approvals list --all --limit {approvals.page_size} --page P` over {approvals.requests:,} "
            f"requests: a middle page reads in {approvals.page_ms_median:.1f} ms, the last in "
            f"{approvals.last_page_ms_median:.1f} ms (median of 5, in-process; two reads: the page, then all "
            f"its votes); the command end to end, interpreter start included, {approvals.command_seconds:.1f} s.",
        ]
    return lines
