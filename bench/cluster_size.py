"""Cluster size: the agent against 100 / 1,000 / 10,000 / 50,000 Deployments.

Each Deployment has a ReplicaSet, a Pod, a ConfigMap it reads and a Service (`simcluster.scaled`).
The simulated cluster runs in a process of its own (`--serve`, settled, then served without
controller passes so it does not compete for the lock), and the agent in another, so RSS and CPU
are the agent's alone. Per size:

- start-up to ready: `build_agent` + `start()` (watch-cache lists, first snapshot resync);
- RSS at ready, once the heap is settled as `scutum run` settles it after start-up
  (`settle_heap`), and growth per cached object against the RSS before the agent was built;
- idle CPU: the agent's CPU time over an idle window with its scheduled jobs running;
- alert → verdict: one alert (Alertmanager's shape, 12 labels, 3 annotations) ingested and
  decided in shadow mode, on Deployments rolled out to a missing image minutes before (the
  planner proposes a rollback and the probes read the cluster) and on healthy ones; p50 / p99
  quiet, and p99 while the keeper resyncs and prunes (a thread changes ConfigMaps, resyncs and
  prunes back to back);
- Kubernetes API requests per executed action: a rollback's re-check (live, label-selected),
  its execution (dry run and write) and one verification read, counted separately.

    python -m bench.cluster_size [--sizes 100 1000 10000 50000] [--database-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.chaos_bench import _schema

Obj = dict[str, Any]
CHANGED_EVERY = 10
"""Every tenth Deployment was rolled out to a missing image minutes before its alert: the planner
proposes a rollback and the probes read the cluster for it (the others escalate)."""
DECISIONS = 200
IDLE_SECONDS = 30.0
"""The idle window over which the agent's CPU time is measured (three keeper passes)."""
CHURN = 50
"""ConfigMaps changed before each keeper pass in the resync phase."""


@dataclass
class SizeResult:
    """One cluster size."""

    deployments: int
    cluster_objects: int
    seed_seconds: float
    """The simulated cluster's own build and settle (not the agent)."""
    startup_seconds: float
    cached_objects: int
    rss_before_mb: float
    rss_ready_mb: float
    kb_per_cached_object: float
    idle_cpu_percent: float
    decide_p50_ms: float
    decide_p99_ms: float
    keeper_decisions: int
    keeper_decide_p99_ms: float
    keeper_passes: int
    keeper_pass_max_ms: float
    snapshots: int
    action: str
    recheck_requests: int
    execute_requests: int
    verify_requests: int
    database: str


# --- the simulated cluster's process ---------------------------------------------------------


def serve(deployments: int, kubeconfig: Path) -> None:
    """Build, settle and serve a scaled cluster; prints one JSON line when ready, then waits."""
    from simcluster.clock import ManualClock
    from simcluster.cluster import SimCluster
    from simcluster.harness import write_kubeconfig
    from simcluster.scaled import load_scaled
    from simcluster.server import ApiServer

    started = time.perf_counter()
    clock = ManualClock()
    cluster = SimCluster(clock, alert_pending_seconds=None)
    estate = load_scaled(cluster.store, deployments=deployments)
    cluster.settle(passes=4, seconds=2.0)
    clock.advance(3600)
    for namespace, name in estate.deployments[::CHANGED_EVERY]:
        cluster.inject("bad_image_rollout", namespace=namespace, deployment=name)
    cluster.settle(passes=3, seconds=2.0)
    clock.advance(600)
    server = ApiServer(cluster.store, cluster).start()
    write_kubeconfig(kubeconfig, server.url)
    objects = sum(
        len(cluster.store.iter_kind(kind)) for kind in ("Deployment", "ReplicaSet", "Pod", "ConfigMap", "Service")
    )
    ready = {
        "url": server.url,
        "seconds": time.perf_counter() - started,
        "objects": objects,
        "now": clock.now().isoformat(),
    }
    print(json.dumps(ready), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop()


# --- the agent's process ---------------------------------------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _alert(namespace: str, name: str, now: datetime, n: int) -> Obj:
    labels = {
        "alertname": "KubeDeploymentReplicasMismatch",
        "namespace": namespace,
        "deployment": name,
        "severity": "warning",
        "job": "kube-state-metrics",
        "container": "kube-state-metrics",
        "endpoint": "http",
        "instance": "10.0.3.7:8080",
        "pod": "kube-state-metrics-7d9f8b6c5-x2x4q",
        "service": "kube-state-metrics",
        "prometheus": "monitoring/k8s",
        "cluster": "bench",
    }
    annotations = {
        "summary": "Deployment has not matched the expected number of replicas.",
        "description": f"Deployment {namespace}/{name} has not matched the expected number of replicas for 15m.",
        "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubedeploymentreplicasmismatch",
    }
    stamp = (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": stamp,
        "endsAt": (now + timedelta(minutes=4)).isoformat().replace("+00:00", "Z"),
        "updatedAt": now.isoformat().replace("+00:00", "Z"),
        "fingerprint": f"{n:016x}",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
        "generatorURL": "http://prometheus/graph",
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


class _Keeper(threading.Thread):
    """Changes ConfigMaps, then resyncs and prunes, back to back, recording when each pass ran."""

    def __init__(self, agent: Any, targets: list[tuple[str, str]]) -> None:
        super().__init__(name="bench-keeper", daemon=True)
        self.agent, self.targets = agent, targets
        self.passes: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(1)
        while not self.stop.is_set():
            for namespace, name in rng.sample(self.targets, min(CHURN, len(self.targets))):
                body = {"data": {"N": str(rng.randrange(10**6))}}
                self.agent.kube.patch("ConfigMap", f"{name}-config", body, namespace)
            time.sleep(0.2)  # let the watch deliver the changes
            begun = time.perf_counter()
            self.agent.keeper.resync()
            self.agent.keeper.prune()
            self.passes.append((begun, time.perf_counter()))


def _decide(agent: Any, targets: list[tuple[str, str]], now: datetime, first: int) -> list[tuple[float, float]]:
    """(start, seconds) of each alert ingested and decided."""
    from agent.intake import parse_gettable_alerts

    pipeline = agent.pipeline
    spans = []
    for n, (namespace, name) in enumerate(targets):
        payload = json.dumps([_alert(namespace, name, now, first + n)]).encode()
        begun = time.perf_counter()
        result = pipeline.intake.ingest_batch(parse_gettable_alerts(payload), now=now)
        new, result.new = result.new, []
        pipeline.handle(result, now=now)
        for incident in new:
            pipeline.decide(incident, now=now)
        spans.append((begun, time.perf_counter() - begun))
    return spans


def _action_requests(agent: Any, namespace: str, name: str, now: datetime) -> tuple[str, int, int, int]:
    """API requests of one rollback: re-check, execute (dry run + write), one verification read."""
    from actions.base import ActionContext
    from actions.registry import get_action
    from agent.intake import parse_gettable_alerts

    result = agent.pipeline.intake.ingest_batch(
        parse_gettable_alerts(json.dumps([_alert(namespace, name, now, 10**9)]).encode()), now=now
    )
    incident = result.new[0]
    evaluation = agent.pipeline.evaluator.evaluate(incident, now=now)
    proposal = evaluation.proposal
    if proposal is None:
        return "none proposed", 0, 0, 0
    kube = agent.kube
    before = kube.requests
    agent.pipeline.evaluator.rescore(proposal, incident, now=now)
    recheck = kube.requests - before
    action = get_action(proposal.action)
    context = ActionContext(kube=kube, clock=lambda: now, snapshots=agent.store.snapshots)
    before = kube.requests
    outcome = action.execute(context, proposal.params)
    executed = kube.requests - before
    before = kube.requests
    action.verify(context, proposal.params, outcome)
    return proposal.action.value, recheck, executed, kube.requests - before


def _clock_from(start: datetime) -> Callable[[], datetime]:
    """The simulated cluster's time (frozen in its process) moving on with the wall clock here."""
    begun = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - begun)


def measure(url: str, deployments: int, sim_now: datetime, database_url: str | None) -> dict[str, Any]:
    """Everything for one size, in this process (the agent's)."""
    from agent.app import build_agent, settle_heap
    from agent.settings import load_settings
    from bench.suite import quiet_logs

    quiet_logs()
    workdir = Path(tempfile.mkdtemp(prefix="scutum-size-"))
    base = load_settings(None, env={})
    update: dict[str, Any] = {
        "data_dir": workdir,
        "kube": base.kube.model_copy(update={"url": url}),
        "policy": base.policy.model_copy(update={"shadow": True}),
    }
    if database_url:
        update["database"] = base.database.model_copy(update={"url": database_url})
    settings = base.model_copy(update=update)
    names = [(f"team-{i % 20:02d}", f"svc-{i:05d}") for i in range(deployments)]
    changed, healthy = names[::CHANGED_EVERY], [n for i, n in enumerate(names) if i % CHANGED_EVERY]
    rng = random.Random(0)
    spare, changed = changed[-1], changed[:-1]  # kept for the action, never alerted before it
    picks = rng.sample(changed, min(DECISIONS // 2, len(changed))) + rng.sample(
        healthy, min(DECISIONS // 2, len(healthy))
    )
    rng.shuffle(picks)
    try:
        rss_before = _rss_mb()
        begun = time.perf_counter()
        clock = _clock_from(sim_now)
        agent = build_agent(settings, clock=clock)
        agent.start(schedule=True, poll=False)
        startup = time.perf_counter() - begun
        settle_heap()  # as `scutum run` does right after start-up
        rss_ready = _rss_mb()
        cache = agent.cache
        cached = len(cache) if cache else 0
        cpu_begun, wall_begun = time.process_time(), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        idle = (time.process_time() - cpu_begun) / (time.perf_counter() - wall_begun) * 100
        agent.scheduler.pause()  # the keeper thread below takes over the keeper's work
        now = clock()
        quiet = _decide(agent, picks[: len(picks) // 2], now, 0)
        keeper = _Keeper(agent, names)
        keeper.start()
        while not keeper.passes:
            time.sleep(0.05)
        busy = _decide(agent, picks[len(picks) // 2 :], now, 10**6)
        keeper.stop.set()
        keeper.join()
        overlapping = [s for b, s in busy if any(p0 < b + s and b < p1 for p0, p1 in keeper.passes)]
        action, recheck, executed, verified = _action_requests(agent, *spare, now)
        snapshots = agent.store.snapshots.count()
        agent.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    quiet_s = [s for _, s in quiet]
    return {
        "startup_seconds": startup,
        "cached_objects": cached,
        "rss_before_mb": rss_before,
        "rss_ready_mb": rss_ready,
        "kb_per_cached_object": (rss_ready - rss_before) * 1024 / cached if cached else 0.0,
        "idle_cpu_percent": idle,
        "decide_p50_ms": _percentile(quiet_s, 0.5),
        "decide_p99_ms": _percentile(quiet_s, 0.99),
        "keeper_decisions": len(overlapping),
        "keeper_decide_p99_ms": _percentile(overlapping, 0.99),
        "keeper_passes": len(keeper.passes),
        "keeper_pass_max_ms": max((p1 - p0 for p0, p1 in keeper.passes), default=0.0) * 1000,
        "snapshots": snapshots,
        "action": action,
        "recheck_requests": recheck,
        "execute_requests": executed,
        "verify_requests": verified,
        "database": "postgresql" if database_url else "sqlite",
    }


def run_size(deployments: int, *, database_url: str | None = None) -> SizeResult:
    """One size: the cluster in one child process, the agent in another (on PostgreSQL, in a
    schema of its own, dropped after: every size starts from an empty store, as SQLite does)."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-cluster-"))
    schema = f"scutum_size_{uuid.uuid4().hex[:10]}"
    sim = subprocess.Popen(
        [sys.executable, "-m", "bench.cluster_size", "--serve", str(deployments), "--kubeconfig", str(workdir / "kc")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        ready = json.loads(sim.stdout.readline())
        command = [sys.executable, "-m", "bench.cluster_size", "--agent", ready["url"], str(deployments), ready["now"]]
        if database_url:
            command += ["--database-url", _schema(database_url, schema, create=True)]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the agent's measurement failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if database_url:
            with contextlib.suppress(psycopg.Error):
                _schema(database_url, schema, create=False)
        if sim.stdin is not None:
            sim.stdin.close()
        sim.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    return SizeResult(
        deployments=deployments, cluster_objects=ready["objects"], seed_seconds=ready["seconds"], **figures
    )


def main(argv: list[str] | None = None) -> int:
    """Measure the sizes and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 50_000])
    parser.add_argument("--database-url", help="PostgreSQL (or another SQLite) instead of the embedded SQLite")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--agent", nargs=3, metavar=("URL", "DEPLOYMENTS", "NOW"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.kubeconfig)
        return 0
    if args.agent:
        sim_now = datetime.fromisoformat(args.agent[2])
        print(json.dumps(measure(args.agent[0], int(args.agent[1]), sim_now, args.database_url)))
        return 0
    results = []
    for size in args.sizes:
        result = run_size(size, database_url=args.database_url)
        results.append(result)
        print(describe(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


def describe(r: SizeResult) -> str:
    """One line per size."""
    return (
        f"{r.deployments:>6} deployments ({r.database}): ready {r.startup_seconds:.1f} s, RSS {r.rss_ready_mb:.0f} MB "
        f"({r.kb_per_cached_object:.1f} KB/object), idle CPU {r.idle_cpu_percent:.1f}%, decide p50/p99 "
        f"{r.decide_p50_ms:.1f}/{r.decide_p99_ms:.1f} ms, during keeper p99 {r.keeper_decide_p99_ms:.1f} ms "
        f"({r.keeper_decisions} decisions, {r.keeper_passes} passes, max {r.keeper_pass_max_ms:.0f} ms), "
        f"{r.action}: {r.recheck_requests}+{r.execute_requests}+{r.verify_requests} API requests"
    )


if __name__ == "__main__":
    sys.exit(main())
