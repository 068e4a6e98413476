"""Intake under an alert storm: memory stays bounded and ingestion stays fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.intake import IgnoreReason, Intake, IntakeLimits, parse_gettable_alerts

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def storm(count: int, *, targets: int, distinct: int) -> list[dict[str, Any]]:
    """`count` alerts over `targets` deployments, cycling through `distinct` fingerprints."""
    alerts = []
    for i in range(count):
        fp = i % distinct
        alerts.append(
            {
                "labels": {
                    "alertname": "KubePodCrashLooping" if fp % 2 else "KubeDeploymentReplicasMismatch",
                    "namespace": f"ns-{fp % targets % 7}",
                    "deployment": f"app-{fp % targets}",
                    "severity": "warning",
                    "instance": str(fp),
                },
                "annotations": {},
                "startsAt": "2026-11-28T04:50:00Z",
                "endsAt": "2026-11-28T05:10:00Z",
                "updatedAt": "2026-11-28T05:00:00Z",
                "fingerprint": f"fp-{fp}",
                "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
                "receivers": [{"name": "scutum"}],
            }
        )
    return alerts


def test_storm_of_100k_alerts_over_300_targets_keeps_maps_bounded() -> None:
    limits = IntakeLimits(max_open_incidents=200, max_alerts_per_incident=20, max_closed_incidents=50)
    intake = Intake(limits)
    # parse one copy of each distinct alert; the storm repeats them (parsing speed is tested below)
    batch = parse_gettable_alerts(storm(30_000, targets=300, distinct=30_000))
    assert batch.rejected == []
    alerts = [batch.alerts[i % 30_000] for i in range(100_000)]
    ignored = 0
    for start in range(0, len(alerts), 5_000):
        result = intake.ingest(alerts[start : start + 5_000], now=NOW)
        ignored += sum(1 for i in result.ignored if i.reason is IgnoreReason.CAPACITY)
    sizes = intake.sizes()
    assert sizes["open"] == 200
    assert sizes["groups"] == 200
    assert sizes["alerts"] <= 200 * 20
    assert sizes["fingerprints"] == sizes["alerts"]
    assert ignored > 0 and intake.dropped_alerts > 0
    # a complete poll with nothing in it resolves everything; closed ones stay capped
    result = intake.ingest([], now=NOW + timedelta(minutes=5), complete=True)
    assert len(result.resolved) == 200
    assert intake.sizes() == {"open": 0, "closed": 50, "groups": 0, "fingerprints": 0, "settling": 0, "alerts": 0}


def test_ingestion_with_parsing_and_dedup_beats_2000_alerts_per_second() -> None:
    raw = storm(20_000, targets=300, distinct=2_000)
    intake = Intake()
    started = time.perf_counter()
    result = intake.ingest_poll(raw, now=NOW)
    elapsed = time.perf_counter() - started
    assert len(result.new) == 300
    assert 20_000 / elapsed > 2_000, f"{20_000 / elapsed:.0f} alerts/s"
