"""Alert storm: the cost of a decision under 1,000 / 10,000 / 100,000 alerts.

A simulated cluster with a few hundred Deployments is served over HTTP; an agent in shadow
mode (it decides and records, never acts) reads it through its watch cache. Alerts over a few
hundred of those Deployments arrive in batches of `BATCH` (Alertmanager GettableAlert objects),
with duplicates, flapping and resolutions. Each batch goes through intake; every new incident
is decided by the agent's own `Pipeline.decide` (plan → probes → risk → policy, recorded in the
store and the audit chain). The floor is the same batches only parsed and validated: the
batches are generated before any clock starts, so neither figure includes making them.

Timed runs never run under a profiler; `--profile N` is a separate pass whose timings are
discarded (only its profile is kept).

Each size runs in its own process so peak RSS (which includes the simulated cluster) is per
size: `python -m bench.storm --sizes 1000 10000 100000 [--json FILE] [--profile N]`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.app import build_agent
from agent.intake import parse_gettable_alerts
from agent.pipeline import Handled
from agent.settings import Settings
from bench.suite import quiet_logs, settings_for
from simcluster.clock import ManualClock, rfc3339
from simcluster.harness import start_sim
from simcluster.store import ObjectStore

Obj = dict[str, Any]
TARGETS = 300
"""Deployments alerted on (out of `WORKLOADS`)."""
WORKLOADS = 400
NAMESPACES = 8
BATCH = 100
"""Alerts per delivery (one Alertmanager poll or notification's worth)."""
ALERTS_PER_TARGET = 3
RESOLVE_P = 0.02
"""Chance that an alert that fires is resolved by this delivery (then it may flap back)."""
CHANGED_EVERY = 10
"""Every tenth Deployment had a rollout an hour before the storm, so its alerts lead to a
rollback proposal that is probed and scored (the others escalate: no recent change)."""
NAMES = ("KubePodCrashLooping", "KubeDeploymentReplicasMismatch", "KubeDeploymentRolloutStuck")


@dataclass
class StormResult:
    """One size's figures."""

    alerts: int
    batches: int
    decisions: int
    incidents_skipped: int
    floor_seconds: float
    ingest_seconds: float
    total_seconds: float
    alerts_per_second: float
    floor_alerts_per_second: float
    decisions_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    decide_p50_ms: float
    """One decision alone (plan, probes, risk, policy, store and audit), without the wait behind
    the other incidents of its batch."""
    decide_p99_ms: float
    api_requests: int
    api_requests_per_decision: float
    rss_before_mb: float
    peak_rss_mb: float
    profile: str = ""


def _deployment(name: str, namespace: str) -> Obj:
    labels = {"app": name}
    container = {"name": "main", "image": f"registry.example/{name}:1.0", "resources": {"requests": {"cpu": "5m"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def _seed(store: ObjectStore) -> list[tuple[str, str]]:
    workloads = []
    for n in range(NAMESPACES):
        store.create("Namespace", {"metadata": {"name": f"team-{n}"}})
    for i in range(WORKLOADS):
        namespace, name = f"team-{i % NAMESPACES}", f"svc-{i:03d}"
        store.create("Deployment", _deployment(name, namespace))
        workloads.append((namespace, name))
    return workloads


def _nodes(store: ObjectStore) -> None:
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "250"}
    for n in range(4):
        node = {
            "metadata": {"name": f"big-{n}", "labels": {"kubernetes.io/hostname": f"big-{n}"}},
            "status": {"capacity": capacity, "allocatable": capacity},
        }
        store.create("Node", node)


def alert_stream(count: int, start: datetime, *, seed: int = 0) -> Iterator[tuple[datetime, list[Obj]]]:
    """`count` GettableAlert objects in batches of `BATCH`, one simulated second apart."""
    rng = random.Random(seed)
    since: dict[int, datetime] = {}
    now = start
    emitted = 0
    while emitted < count:
        batch = []
        for _ in range(min(BATCH, count - emitted)):
            key = rng.randrange(TARGETS * ALERTS_PER_TARGET)
            target, name = divmod(key, ALERTS_PER_TARGET)
            started = since.setdefault(key, now)
            ends = now + timedelta(minutes=4)
            if rng.random() < RESOLVE_P:
                ends = now - timedelta(seconds=1)
                del since[key]
            batch.append(_alert(target, NAMES[name], started, ends, now))
        emitted += len(batch)
        yield now, batch
        now += timedelta(seconds=1)


def _alert(target: int, name: str, started: datetime, ends: datetime, now: datetime) -> Obj:
    labels = {
        "alertname": name,
        "namespace": f"team-{target % NAMESPACES}",
        "deployment": f"svc-{target:03d}",
        "severity": "warning",
        "job": "kube-state-metrics",
    }
    return {
        "labels": labels,
        "annotations": {"summary": f"{name} on svc-{target:03d}"},
        "startsAt": rfc3339(started),
        "endsAt": rfc3339(ends),
        "updatedAt": rfc3339(now),
        "fingerprint": f"{target:04x}{name[:8]}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
    }


def _floor(batches: list[tuple[datetime, list[Obj]]]) -> float:
    started = time.perf_counter()
    for _, batch in batches:
        parsed = parse_gettable_alerts(batch)
        assert not parsed.rejected
    return time.perf_counter() - started


def _mb(kilobytes: int) -> float:
    return kilobytes / 1024.0


@contextlib.contextmanager
def storm_world(prefix: str) -> Iterator[tuple[ManualClock, Settings]]:
    """The storm's cluster on a manual clock: nodes and Deployments seeded and settled, every
    tenth target rolled out an hour ago (so its alerts are probed for a rollback); shadow-mode
    settings on it. The cluster is stopped and its directory removed on the way out."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    clock = ManualClock()
    sim = start_sim("bare", clock=clock, kubeconfig_path=workdir / "kubeconfig")
    try:
        _nodes(sim.cluster.store)
        workloads = _seed(sim.cluster.store)
        sim.cluster.settle(passes=3, seconds=2.0)
        clock.advance(3600)
        for namespace, name in workloads[:TARGETS:CHANGED_EVERY]:
            sim.cluster.inject("rollout_restart", namespace=namespace, deployment=name)
        sim.cluster.settle(passes=3, seconds=2.0)
        clock.advance(600)
        sim.cluster.tick(1)
        settings = settings_for(sim, workdir / "data")
        yield clock, settings.model_copy(update={"policy": settings.policy.model_copy(update={"shadow": True})})
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(size: int, *, profile_top: int = 0) -> StormResult:
    """Run one size in this process."""
    quiet_logs()
    with storm_world("scutum-storm-") as (clock, settings):
        agent = build_agent(settings, clock=clock.now)
        try:
            agent.start(schedule=False, poll=False)
            start = clock.now()
            rss_before = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            batches = list(alert_stream(size, start))  # made before any timing
            floor = min(_floor(batches), _floor(batches))
            profiler = cProfile.Profile() if profile_top else None
            if profiler:
                profiler.enable()
            latencies, service, ingest, skipped, total = _drive(agent, batches, clock)
            if profiler:
                profiler.disable()
            requests = agent.kube.requests  # the cache's initial lists and watches included
        finally:
            agent.stop()
    decisions = len(latencies)
    ordered = sorted(latencies) or [0.0]
    return StormResult(
        alerts=size,
        batches=-(-size // BATCH),
        decisions=decisions,
        incidents_skipped=skipped,
        floor_seconds=floor,
        ingest_seconds=ingest,
        total_seconds=total,
        alerts_per_second=size / ingest,
        floor_alerts_per_second=size / floor,
        decisions_per_second=decisions / total if total else 0.0,
        p50_ms=ordered[len(ordered) // 2] * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        max_ms=ordered[-1] * 1000,
        decide_p50_ms=_percentile(service, 0.5),
        decide_p99_ms=_percentile(service, 0.99),
        api_requests=requests,
        api_requests_per_decision=requests / decisions if decisions else float(requests),
        rss_before_mb=rss_before,
        peak_rss_mb=_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
        profile=_top(profiler, profile_top) if profiler else "",
    )


def _drive(
    agent: Any, batches: Iterable[tuple[datetime, list[Obj]]], clock: ManualClock
) -> tuple[list[float], list[float], float, int, float]:
    """Feed every batch: intake (timed alone), then each new incident decided (timed from arrival)."""
    pipeline = agent.pipeline
    latencies: list[float] = []
    service: list[float] = []
    ingest = 0.0
    skipped = 0
    started = time.perf_counter()
    for moment, batch in batches:
        clock.advance((moment - clock.now()).total_seconds())
        arrival = time.perf_counter()
        result = pipeline.intake.ingest_batch(parse_gettable_alerts(batch), now=moment)
        ingest += time.perf_counter() - arrival
        new, result.new = result.new, []
        pipeline.handle(result, now=moment)
        for incident in new:
            begun = time.perf_counter()
            handled: Handled = pipeline.decide(incident, now=moment)
            finished = time.perf_counter()
            latencies.append(finished - arrival)
            service.append(finished - begun)
            skipped += handled.joined is not None
    return latencies, service, ingest, skipped, time.perf_counter() - started


def _percentile(values: list[float], share: float) -> float:
    """The `share` quantile in milliseconds."""
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def _top(profiler: cProfile.Profile, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(count)
    lines = [_relative(line) for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:])


def _relative(line: str) -> str:
    """Profile paths relative to the project or the Python install: no machine paths in reports."""
    root = str(Path(__file__).resolve().parents[1]) + "/"
    stdlib = str(Path(contextlib.__file__).resolve().parent) + "/"
    return line.replace(root, "").replace(stdlib, "")


def _one(size: int, *extra: str) -> StormResult:
    command = [sys.executable, "-m", "bench.storm", "--one", str(size), *extra]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return StormResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def run_sizes(sizes: list[int], *, profile_size: int | None = None) -> list[StormResult]:
    """Each size in a fresh interpreter (so peak RSS is that size's own), never profiled; the
    profile of `profile_size` comes from one more, separate run whose timings are dropped."""
    results = [_one(size) for size in sizes]
    if profile_size is not None:
        profile = _one(profile_size, "--profile", "25").profile
        for result in results:
            if result.alerts == profile_size:
                result.profile = profile
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure the sizes and print them (or one size as JSON, for `run_sizes`)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--one", type=int, help="measure one size in this process and print JSON")
    parser.add_argument("--profile", type=int, default=0, help="with --one: include the top N functions")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(asdict(measure(args.one, profile_top=args.profile))))
        return 0
    results = run_sizes(args.sizes, profile_size=max(args.sizes))
    for r in results:
        print(
            f"{r.alerts:>7} alerts  {r.alerts_per_second:>8.0f} alerts/s  {r.decisions:>5} decisions "
            f"{r.decisions_per_second:>6.0f}/s  p50 {r.p50_ms:.1f} ms  p99 {r.p99_ms:.1f} ms  "
            f"{r.api_requests_per_decision:.2f} req/decision  peak RSS {r.peak_rss_mb:.0f} MB"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
