"""Chaos benchmark: each fault N times against real `scutum run` processes, counting what must
never happen (double executions, writes by a non-leader, recorded outcomes that differ from the
cluster, failures without an audit record or an escalation) and the failover time.

    python -m bench.chaos_bench --runs 3 [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import psycopg

from agent.store import ExecutionState, Store
from bench.chaos_world import NAMESPACE, WORKLOAD, Chaos, chaos, wait_until
from simcluster.errors import NotFound

TARGET = {"namespace": NAMESPACE, "name": WORKLOAD, "resource": "deployments", "verb": "patch"}
ACTIVE = (ExecutionState.CLAIMED, ExecutionState.RUNNING)


@dataclass
class Trial:
    """One run of one fault."""

    fault: str
    double_executions: int = 0
    non_leader_writes: int = 0
    wrong_outcomes: int = 0
    silent_failures: int = 0
    failover_seconds: float | None = None
    error: str = ""


@dataclass
class FaultResult:
    """Every trial of one fault."""

    fault: str
    trials: list[Trial] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(t, name)) for t in self.trials)


def applied_writes(world: Chaos) -> list[dict[str, Any]]:
    """Real writes of the fix the server applied (answered 2xx, or applied before a fault)."""
    return [e for e in world.real_writes() if e["applied"] and (e["fault"] or 200 <= (e["status"] or 0) < 300)]


def _settled(world: Chaos) -> list[Any]:
    return [e for e in world.executions() if e.state not in ACTIVE]


def _hung(world: Chaos) -> bool:
    return bool(world.requests(fault="hang"))


def _kill_then_recover(world: Chaos, rule: dict[str, Any] | None, *, stop: signal.Signals) -> dict[str, Any]:
    first = world.start_agent("agent-a")
    if rule is not None:
        world.fault(**rule)
    world.inject()
    if rule is not None:
        wait_until(lambda: _hung(world), what="the agent to reach the step")
    else:
        wait_until(world.real_writes, what="the write")
        world.fault(kind="hang", **{**TARGET, "verb": "get"})
    os.kill(first.pid, stop)
    first.wait(timeout=60)
    world.sim.server.api.faults.clear()
    world.start_agent("agent-b")
    wait_until(lambda: _settled(world), timeout=120, what="recovery")
    return {}


def kill_dry_run(world: Chaos) -> dict[str, Any]:
    rule = {"kind": "hang", "dry_run": True, "count": 1, **TARGET}
    return _kill_then_recover(world, rule, stop=signal.SIGKILL)


def kill_after_write(world: Chaos) -> dict[str, Any]:
    rule = {"kind": "hang", "apply": True, "dry_run": False, "count": 1, **TARGET}
    return _kill_then_recover(world, rule, stop=signal.SIGKILL)


def kill_verify(world: Chaos) -> dict[str, Any]:
    return _kill_then_recover(world, None, stop=signal.SIGKILL)


def sigterm_verify(world: Chaos) -> dict[str, Any]:
    return _kill_then_recover(world, None, stop=signal.SIGTERM)


def _api_fault(rule: dict[str, Any]) -> Callable[[Chaos], dict[str, Any]]:
    def run(world: Chaos) -> dict[str, Any]:
        world.start_agent("agent-a")
        world.fault(**rule, **TARGET)
        world.inject()
        wait_until(lambda: _settled(world), what="the run to end")
        return {}

    return run


def frozen_leader(world: Chaos) -> dict[str, Any]:
    leader = world.start_agent("agent-a", leader_election=True)
    wait_until(lambda: _lease(world).get("holderIdentity") == "agent-a", what="agent-a to lead")
    world.start_agent("agent-b", leader_election=True)
    world.fault(kind="hang", dry_run=True, count=1, **TARGET)
    world.inject()
    wait_until(lambda: _hung(world), what="the leader's dry run to hang")
    os.kill(leader.pid, signal.SIGSTOP)
    expires = _lease_expiry(world)
    wait_until(lambda: _settled(world), timeout=120, what="the standby to act")
    world.sim.server.api.faults.clear()
    thawed = len(world.sim.server.api.faults.requests())
    os.kill(leader.pid, signal.SIGCONT)
    time.sleep(3)
    after = world.sim.server.api.faults.requests()[thawed:]
    late = [e for e in after if e["name"] == WORKLOAD and e["verb"] == "patch" and not e["dry_run"]]
    first_decision = _first_record_time(world, "agent-b")
    failover = (first_decision - expires).total_seconds() if first_decision and expires else None
    return {"non_leader_writes": len(late), "failover_seconds": failover}


def _lease(world: Chaos) -> dict[str, Any]:
    try:
        lease = world.sim.cluster.store.get("Lease", "default", "scutum-leader")
    except NotFound:
        return {}
    return dict(lease.get("spec") or {})


def _lease_expiry(world: Chaos) -> datetime | None:
    spec = _lease(world)
    renewed = spec.get("renewTime")
    if not renewed:
        return None
    moment = datetime.fromisoformat(str(renewed).replace("Z", "+00:00"))
    return moment + timedelta(seconds=float(spec.get("leaseDurationSeconds") or 0))


def _first_record_time(world: Chaos, actor: str) -> datetime | None:
    store = Store.connect(world.database_url)
    try:
        times = [r.ts for r in store.audit.records() if r.actor == actor]
    finally:
        store.close()
    return min(times) if times else None


SCENARIOS: dict[str, tuple[Callable[[Chaos], dict[str, Any]], bool]] = {
    "kill -9 in the dry run": (kill_dry_run, False),
    "kill -9 after the write, before its answer": (kill_after_write, False),
    "kill -9 during verification": (kill_verify, False),
    "SIGTERM during verification": (sigterm_verify, False),
    "503 on every write": (_api_fault({"kind": "status", "status": 503, "dry_run": False}), False),
    "429 with Retry-After, twice": (
        _api_fault({"kind": "status", "status": 429, "retry_after_seconds": 0.5, "count": 2, "dry_run": False}),
        False,
    ),
    "write applied, then 503": (_api_fault({"kind": "apply_then_fail", "count": 1, "dry_run": False}), False),
    "connection reset on the write": (_api_fault({"kind": "reset", "count": 1, "dry_run": False}), False),
    "frozen leader (SIGSTOP past the Lease)": (frozen_leader, True),
}
"""Each fault, and whether it needs PostgreSQL (two replicas)."""


def judge(world: Chaos, fault: str, extra: dict[str, Any]) -> Trial:
    """Count what must never happen in one trial."""
    trial = Trial(fault, non_leader_writes=int(extra.get("non_leader_writes", 0)))
    trial.failover_seconds = extra.get("failover_seconds")
    trial.double_executions = max(0, len(applied_writes(world)) - 1)
    runs = [e for e in world.executions() if e.state is not ExecutionState.REFUSED]
    replicas = world.replicas()
    for run in runs:
        succeeded = run.state is ExecutionState.SUCCEEDED
        if succeeded != (replicas == 1 and run.effect == "applied"):
            trial.wrong_outcomes += 1
        if run.state is ExecutionState.FAILED:
            failed = [r for r in world.audit("execution") if r.get("failed") and r.get("execution") == run.id]
            escalated = [r for r in world.audit("escalation") if r.get("execution") == run.id]
            trial.silent_failures += int(not failed or not escalated)
    if world.verify_audit().returncode != 0:
        trial.wrong_outcomes += 1
    return trial


def run_fault(fault: str, runs: int, *, postgres: str | None) -> FaultResult:
    """Run one fault `runs` times, each in a fresh world."""
    scenario, needs_postgres = SCENARIOS[fault]
    result = FaultResult(fault)
    for _ in range(runs):
        workdir = Path(tempfile.mkdtemp(prefix="scutum-chaos-"))
        schema = f"scutum_chaos_{uuid.uuid4().hex[:10]}"
        url = _schema(postgres, schema, create=True) if needs_postgres and postgres else None
        try:
            with chaos(workdir, url) as world:
                extra = scenario(world)
                result.trials.append(judge(world, fault, extra))
        except AssertionError as exc:
            result.trials.append(Trial(fault, error=str(exc)[:200]))
        finally:
            if url and postgres:
                _schema(postgres, schema, create=False)
    return result


def _schema(base: str, schema: str, *, create: bool) -> str:
    """Create (or drop) a schema of its own for one trial; returns its URL."""
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"' if create else f'DROP SCHEMA "{schema}" CASCADE')
    return f"{base}?options=-csearch_path%3D{schema}"


def section(results: Sequence[FaultResult], *, runs: int) -> list[str]:
    """The Markdown section for docs/benchmarks.md."""
    lines = [
        "## Chaos: crashes, failover and API faults",
        "",
        f"Each fault {runs} times against real `scutum run` processes on a real-time simulated cluster "
        "(`python -m bench.chaos_bench`). Every count must be 0. Failover: from the frozen leader's "
        "Lease expiry to the new leader's first audit record.",
        "",
        "| fault | runs | double executions | non-leader writes | wrong outcomes | silent failures | "
        "harness errors | failover (median s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        failovers = [t.failover_seconds for t in r.trials if t.failover_seconds is not None]
        failover = f"{median(failovers):.1f}" if failovers else "-"
        errors = sum(1 for t in r.trials if t.error)
        lines.append(
            f"| {r.fault} | {len(r.trials)} | {r.total('double_executions')} | {r.total('non_leader_writes')} | "
            f"{r.total('wrong_outcomes')} | {r.total('silent_failures')} | {errors} | {failover} |"
        )
    return [*lines, ""]


LOCAL_POSTGRES = ("postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql+psycopg://root@127.0.0.1:5432/test")
"""Tried when no --postgres is given: the test database of the development setup."""


def local_postgres() -> str | None:
    """The first local PostgreSQL URL that connects, or None."""
    for url in LOCAL_POSTGRES:
        try:
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
                return url
        except psycopg.Error:
            continue
    return None


def main(argv: Sequence[str] | None = None) -> list[FaultResult]:
    """Run the chosen faults; prints one table row per fault and returns the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="A PostgreSQL URL (frozen-leader runs need it).")
    parser.add_argument("--faults", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args(argv)
    args.postgres = args.postgres or local_postgres()
    results = []
    for fault in args.faults:
        if SCENARIOS[fault][1] and not args.postgres:
            print(f"{fault}: skipped (needs --postgres URL)")
            continue
        result = run_fault(fault, args.runs, postgres=args.postgres)
        results.append(result)
        print("\n".join(section([result], runs=args.runs)[-2:-1]), flush=True)
        for trial in result.trials:
            if trial.error:
                print(f"  harness error: {trial.error}", flush=True)
    return results


if __name__ == "__main__":
    main()
