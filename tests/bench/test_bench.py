"""The benchmark pieces on small inputs: the suite runner, the storm's alert stream, the report."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from agent.intake import parse_gettable_alerts
from agent.intake.alerts import parse_webhook
from bench import http_storm, report, report_scale, soak, storm, webhook_parts
from bench.cluster_size import SizeResult
from bench.history_bench import VerifyResult
from bench.http_storm import HttpStormResult
from bench.scenarios import SCENARIOS, Expect, by_name
from bench.storm import StormResult, alert_stream
from bench.suite import ScenarioResult, run_scenario

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_suite_has_at_least_30_scenarios_with_negatives_and_controls() -> None:
    assert len(SCENARIOS) >= 30
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)
    assert sum(s.expect is Expect.ABSTAIN for s in SCENARIOS) >= 4


def test_runner_mitigates_a_bad_rollout_and_abstains_on_a_quiet_cluster() -> None:
    fixed, quiet = (run_scenario(s) for s in by_name(["deploy-image", "control-idle"]))
    assert fixed.category == "mitigated", fixed
    assert fixed.actions == ["rollback_workload Deployment/frontend: succeeded"]
    assert fixed.sim_to_mitigate is not None and fixed.sim_to_mitigate > 0
    assert quiet.category == "correct_abstention" and quiet.actions == []


def test_storm_stream_has_duplicates_resolutions_and_valid_alerts() -> None:
    batches = list(alert_stream(2000, START))
    alerts = [a for _, batch in batches for a in batch]
    assert len(alerts) == 2000 and len(batches) == 20
    fingerprints = Counter(a["fingerprint"] for a in alerts)
    assert len(fingerprints) <= storm.TARGETS * storm.ALERTS_PER_TARGET
    assert max(fingerprints.values()) > 1
    resolved = [a for a in alerts if a["endsAt"] < a["updatedAt"]]
    assert resolved
    assert parse_gettable_alerts(alerts).rejected == []


def _storm_result(alerts: int) -> StormResult:
    return StormResult(
        alerts=alerts,
        batches=alerts // 100,
        decisions=alerts // 10,
        incidents_skipped=0,
        floor_seconds=0.01 * alerts / 1000,
        ingest_seconds=0.02 * alerts / 1000,
        total_seconds=1.0 * alerts / 1000,
        alerts_per_second=50_000.0,
        floor_alerts_per_second=100_000.0,
        decisions_per_second=100.0,
        p50_ms=100.0,
        p99_ms=900.0,
        max_ms=950.0,
        decide_p50_ms=9.0,
        decide_p99_ms=40.0,
        api_requests=22,
        api_requests_per_decision=0.2,
        rss_before_mb=150.0,
        peak_rss_mb=160.0,
        profile="ncalls  tottime  percall  cumtime  percall filename:lineno(function)" if alerts == 10_000 else "",
    )


def test_report_shows_rates_commands_ratios_and_references() -> None:
    suite = [
        ScenarioResult("a", "A", "misconfig: image", "fix", "mitigated", sim_to_mitigate=120.0, wall_to_mitigate=0.5),
        ScenarioResult(
            "b", "B", "bad config", "fix", "wrong_action", actions=["rollback_workload Deployment/x: failed"]
        ),
        ScenarioResult("c", "C", "control", "abstain", "correct_abstention"),
    ]
    page = report.render(suite, [_storm_result(1000), _storm_result(10_000)], when=START)
    assert "| mitigation success | 1/2 (50%) |" in page
    assert "| correct abstentions | 1/1 |" in page
    assert "| wrong actions (acted and not fixed, or acted where it should not) | 1/3 |" in page
    assert report.SUITE_COMMAND in page and report.STORM_COMMAND in page
    assert "2026-01-01 00:00 UTC" in page
    assert "1,000 → 10,000: alerts x10, pipeline time x10.0" in page
    assert "AIOpsLab" in page and "ITBench" in page
    assert "ncalls" in page


def _size(deployments: int) -> SizeResult:
    return SizeResult(
        deployments=deployments,
        cluster_objects=deployments * 5,
        seed_seconds=1.0,
        startup_seconds=deployments / 1000,
        cached_objects=deployments * 5,
        rss_before_mb=100.0,
        rss_ready_mb=100.0 + deployments / 100,
        kb_per_cached_object=2.0,
        idle_cpu_percent=0.5,
        decide_p50_ms=10.0,
        decide_p99_ms=20.0,
        keeper_decisions=10,
        keeper_decide_p99_ms=25.0,
        keeper_passes=3,
        keeper_pass_max_ms=40.0,
        snapshots=deployments * 3,
        action="rollback_workload",
        recheck_requests=4,
        execute_requests=4,
        verify_requests=2,
        database="sqlite",
    )


def test_a_pass_rewrites_only_its_own_sections() -> None:
    page = (
        "# Benchmarks\n\n<!-- bench:suite -->\nold suite\n<!-- /bench:suite -->\n\n"
        "<!-- bench:storm -->\nold\n<!-- /bench:storm -->\n"
    )
    cluster = report_scale.cluster_section([_size(100), _size(1000)], when="now", machine="m")
    verified = [VerifyResult(100_000, 1.0, 100_000.0, 90.0, True), VerifyResult(1_000_000, 10.0, 100_000.0, 91.0, True)]
    history = report_scale.history_section(verified, None, when="now", machine="m")

    once = report_scale.replace_sections(page, {"storm": ["new storm"], "cluster": cluster, "history": history})
    twice = report_scale.replace_sections(once, {"cluster": cluster})

    assert "old suite" in once and "new storm" in once and "old\n" not in once
    assert once == twice, "a section is replaced in place, never appended twice"
    assert once.count("## Cluster size") == 1 and "1,000 Deployments" in once
    assert "rollback_workload: 4 + 4 + 2" in once
    assert "x10 records: time x10.0, peak RSS x1.01" in once


def test_a_small_flood_still_decides_every_genuine_incident_and_renders() -> None:
    from bench import flood

    result = flood.run(flood=1000, genuine=3)
    assert result.genuine_decided == 3
    assert result.flood_alerts_accepted == 1000 and result.slack_non_2xx == 0
    assert result.agent_peak_rss_mb > 0 and result.healthz_probes > 0
    assert "3 of 3" in flood.render(result)


def test_soak_keeps_deciding_alike_across_restarts_and_leaves_nothing_open() -> None:
    result = soak.run(8, 4, echo=lambda line: None)
    assert result.restarts == 1 and result.undecided == 0
    assert result.auto_executed_first_100 == result.auto_executed_last_100 == 8
    assert result.open_incidents_end == 0 and result.firing_alerts_end == 0
    assert "| auto-executed, last 100 | 8 |" in soak.render(result)


def test_http_storm_bodies_are_alertmanager_notifications_of_new_and_repeated_alerts() -> None:
    real = [(f"team-{i % 4}", f"svc-{i:03d}") for i in range(10)]
    bodies, new = http_storm.bodies(5, real)
    assert new == 5 * http_storm.NEW_PER_POST
    seen: set[str] = set()
    for body in bodies:
        batch = parse_webhook(body)
        assert batch.malformed is None and not batch.rejected
        assert len(batch.alerts) == http_storm.PER_POST
        assert all(len(a.labels) >= 10 and len(a.annotations) == 3 for a in batch.alerts)
        seen |= {a.fingerprint for a in batch.alerts}
    assert len(seen) == new, "every alert after the first POST's new ones repeats one sent before"
    report = http_storm.render(_http_storm_result(), when="now", machine="m")
    assert "| ratio floor / ingested | x2.0 | ≤ x5 |" in report


def _http_storm_result() -> HttpStormResult:
    return HttpStormResult(
        posts=10, alerts=1000, new_alerts=200, clients=3, accepted_alerts=1000, refused_429=0, other_errors=0,
        storm_seconds=1.0, ingested_per_second=1000.0, post_p50_ms=1.0, post_p99_ms=2.0, drain_seconds=0.1,
        healthz_probes=10, healthz_p50_ms=1.0, healthz_p99_ms=2.0, healthz_max_ms=3.0, floor_per_second=2000.0,
        ratio_to_floor=2.0, agent_peak_rss_mb=100.0, body_kb=70.0,
    )  # fmt: skip


def test_webhook_parts_prints_each_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert webhook_parts.main(["--posts", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "floor (validate_json alone)",
        "plain path (msgspec + Alert)",
        "pattern path (pydantic + Alert)",
        "parse / fold, one thread",
        "parse / fold, two threads",
    ]
    assert all(float(line.split()[-2]) > 0 for line in lines)
