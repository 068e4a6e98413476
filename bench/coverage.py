"""Action-space coverage of the scenario catalogue: `risk.coverage` over the suite's results.

Each scenario counts as one incident named by its fault class; the action is the first the
agent ran (none for abstentions, whose reason is the suite's category).

    python -m bench.suite --json suite.json
    python -m bench.coverage suite.json
    python -m bench.coverage --aiopslab
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from risk.coverage import CoverageReport, coverage_of

AIOPSLAB_REGISTRY = "microsoft/AIOpsLab, aiopslab/orchestrator/problems/registry.py at commit 0d0fbc13"
AIOPSLAB_MITIGATION: tuple[tuple[str, int, str | None, str], ...] = (
    # problem family (mitigation task ids in the registry), instances, our action or None, why
    ("k8s_target_port-misconfig", 3, "restore_service", "a Service's targetPort changed: restore it"),
    ("misconfig_app_hotel_res", 1, "rollback_workload", "the Deployment's image was changed to a buggy one"),
    ("assign_to_non_existent_node_social_net", 1, "rollback_workload", "a nodeSelector no node matches"),
    ("wrong_bin_usage", 1, "rollback_workload", "the container command was changed"),
    ("scale_pod_zero_social_net", 1, "scale_workload", "a Deployment scaled to zero"),
    ("revoke_auth_mongodb", 2, None, "database roles revoked inside MongoDB: no Kubernetes object to restore"),
    ("user_unregistered_mongodb", 2, None, "a database user removed inside MongoDB"),
    ("auth_miss_mongodb", 1, None, "a Helm upgrade requires TLS without certificates: a fix through Helm, the owner"),
    ("network_loss_hotel_res", 1, None, "packet loss injected by Chaos Mesh: no registry action removes it"),
    ("redeploy_without_PV", 1, None, "a namespace re-deployed over an old PersistentVolume"),
)
"""AIOpsLab's mitigation problems (its problem registry; the paper's own tables group them by
fault type) and the action that addresses each, as judged by this project."""


def catalogue_coverage(results: list[dict[str, Any]]) -> CoverageReport:
    """Coverage over suite results (the JSON `bench.suite --json` writes)."""
    cases = []
    for result in results:
        action = result["actions"][0].split()[0] if result["actions"] else None
        cases.append((result["fault_class"], action, f"{result['expect']}: {result['category']}"))
    return coverage_of(cases)


def markdown(report: CoverageReport) -> list[str]:
    """The coverage section of docs/benchmarks.md."""
    abstentions = all(reason.startswith("abstain") for reason in report.no_fit_by_reason)
    lines = [
        f"{report.incidents} scenarios; {report.share_addressed:.0%} addressed by one of the nine actions; "
        f"{report.no_fit} with no action" + (" (all of them scenarios where acting is wrong)." if abstentions else "."),
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
    return "\n".join([*intro, *markdown(catalogue_coverage(results)), ""]) + aiopslab_section()


def aiopslab_section() -> str:
    """The AIOpsLab mapping and its coverage, for docs/benchmarks.md."""
    cases = [(name, action, why) for name, count, action, why in AIOPSLAB_MITIGATION for _ in range(count)]
    report = coverage_of(cases)
    rows = [f"| {name} | {count} | {action or 'none'} | {why} |" for name, count, action, why in AIOPSLAB_MITIGATION]
    return "\n".join(
        [
            "",
            "### AIOpsLab's mitigation problems mapped to the nine actions",
            "",
            f"Source: the problem registry ({AIOPSLAB_REGISTRY}); the mapping is this project's judgement. "
            "Command: `python -m bench.coverage --aiopslab`.",
            f"{report.incidents} mitigation problems; {report.share_addressed:.0%} addressed by one of the nine "
            "actions. The operator-misoperation variants (custom resources of a database operator) are generated "
            "at run time, not listed in the static registry, and are left out; none of the nine actions edits a "
            "custom resource. ITBench and STRATUS are not mapped yet.",
            "",
            "| problem | instances | action | why |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite_json", type=Path, nargs="?")
    parser.add_argument("--aiopslab", action="store_true", help="print the AIOpsLab mapping instead")
    args = parser.parse_args(argv)
    if args.aiopslab or args.suite_json is None:
        print(aiopslab_section())
        return
    print("\n".join(markdown(catalogue_coverage(json.loads(args.suite_json.read_text(encoding="utf-8"))))))


if __name__ == "__main__":
    main()
