"""CronJobs, Jobs, cron schedules and quantities."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simcluster.cluster import SimCluster
from simcluster.controllers.batch import CronSchedule
from simcluster.quantity import format_bytes, format_cpu, parse_quantity


def make_cluster(*, suspend: bool = False, env: list[dict[str, str]] | None = None) -> SimCluster:
    cluster = SimCluster(seed=3)
    cluster.load_estate("bare")
    cluster.store.create("Namespace", {"metadata": {"name": "batch"}})
    container = {"name": "report", "image": "busybox:1.36", "env": env or []}
    cluster.store.create(
        "CronJob",
        {
            "metadata": {"name": "report", "namespace": "batch"},
            "spec": {
                "schedule": "*/5 * * * *",
                "suspend": suspend,
                "successfulJobsHistoryLimit": 2,
                "jobTemplate": {"spec": {"backoffLimit": 1, "template": {"spec": {"containers": [container]}}}},
            },
        },
    )
    return cluster


def run_minutes(cluster: SimCluster, minutes: int) -> None:
    for _ in range(minutes * 2):
        cluster.tick(30)


def test_cronjob_starts_jobs_on_schedule_and_trims_history() -> None:
    cluster = make_cluster()
    run_minutes(cluster, 22)
    jobs = cluster.store.list("Job", "batch")[0]
    assert len(jobs) == 2  # four runs, two kept
    assert all(j["status"]["succeeded"] == 1 for j in jobs)
    status = cluster.store.get("CronJob", "batch", "report")["status"]
    assert status["lastScheduleTime"] == "2026-01-01T00:20:00Z"
    assert "active" not in status


def test_suspended_cronjob_starts_nothing() -> None:
    cluster = make_cluster(suspend=True)
    run_minutes(cluster, 21)
    assert cluster.store.list("Job", "batch")[0] == []


def test_failing_job_reports_failed_condition_after_backoff_limit() -> None:
    cluster = make_cluster(env=[{"name": "SIM_FAIL", "value": "crash"}])
    run_minutes(cluster, 7)
    (job,) = cluster.store.list("Job", "batch")[0]
    assert job["status"]["failed"] == 2
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/15 * * * *", datetime(2026, 1, 1, 0, 7, tzinfo=UTC), datetime(2026, 1, 1, 0, 15, tzinfo=UTC)),
        ("0 9-17 * * 1-5", datetime(2026, 1, 2, 18, 0, tzinfo=UTC), datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
        ("5,35 2 * * *", datetime(2026, 1, 1, 2, 6, tzinfo=UTC), datetime(2026, 1, 1, 2, 35, tzinfo=UTC)),
        ("0 0 1 */3 *", datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        ("@hourly", datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
    ],
)
def test_cron_schedule_finds_the_next_run(expression: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule(expression).next_after(after) == expected


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "*/0 * * * *", "a b c d e"])
def test_malformed_cron_schedule_is_rejected(expression: str) -> None:
    with pytest.raises(ValueError):
        CronSchedule(expression)


@pytest.mark.parametrize(
    ("text", "value"),
    [("100m", 0.1), ("1.5", 1.5), ("128Mi", 128 * 2**20), ("1G", 1e9), ("1e3", 1000.0), ("2Ki", 2048.0), (3, 3.0)],
)
def test_quantities_parse_to_numbers(text: str | int, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


def test_malformed_quantity_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_quantity("12 apples")


def test_quantities_format_as_kubernetes_prints_them() -> None:
    assert format_bytes(256 * 2**20) == "256Mi"
    assert format_cpu(0.25) == "250m"
    assert format_cpu(2.0) == "2"
