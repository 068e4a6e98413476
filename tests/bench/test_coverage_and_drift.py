"""The benchmark's coverage and drift sections are computed by the product's own statistics."""

from __future__ import annotations

from actions.base import ActionName
from bench import coverage, drift


def test_catalogue_coverage_counts_each_scenario_by_its_first_action() -> None:
    results = [
        {
            "fault_class": "misconfig: image",
            "actions": ["rollback_workload Deployment/x: succeeded"],
            "expect": "fix",
            "category": "mitigated",
        },
        {
            "fault_class": "bad config",
            "actions": ["restore_configmap ConfigMap/c: succeeded", "x"],
            "expect": "fix",
            "category": "mitigated",
        },
        {"fault_class": "control", "actions": [], "expect": "abstain", "category": "correct_abstention"},
    ]
    report = coverage.catalogue_coverage(results)
    assert report.addressed == {"rollback_workload": 1, "restore_configmap": 1}
    assert report.no_fit_by_reason == {"abstain: correct_abstention": 1}
    lines = coverage.markdown(report)
    assert "| restore_configmap | 1 | 33% | k=1: 33% |" in lines  # ties: alphabetical
    assert "| rollback_workload | 1 | 33% | k=2: 67% |" in lines
    assert "all of them scenarios where acting is wrong" in lines[0]


def test_the_aiopslab_mapping_names_only_registry_actions() -> None:
    actions = {action for _, _, action, _ in coverage.AIOPSLAB_MITIGATION if action is not None}
    assert actions <= {a.value for a in ActionName}
    assert "14 mitigation problems; 50% addressed" in coverage.aiopslab_section()


def test_drift_bench_rows_cover_every_signal() -> None:
    rows = drift.measure(2)
    assert len(rows) == len(drift.MATCH)
    assert all(row.count("|") == 8 for row in rows)
