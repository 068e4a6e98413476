"""A fleet on one store: decisions per second on one PostgreSQL with 1, 4 and 16 agents.

Each agent is its own process with its own cluster name and its own simulated cluster (the
storm bench's estate: 400 Deployments over 8 namespaces, a tenth of them rolled out an hour
before, so their alerts lead to a probed rollback proposal; the others escalate). All agents
write to one fresh PostgreSQL schema. Agents run in shadow mode (decided and recorded, nothing
run): a decision is intake, plan, probes of the cluster, risk, policy and its records (incident,
proposal, decision, audit records in the cluster's own chain), the same work as a live one.

Every agent builds its cluster and starts, then all start deciding at the same instant; each
gets `--decisions` alerts on distinct targets (one decision each), in batches of 50. The fleet's
rate is all decisions over the wall time from that instant to the last agent's end. PostgreSQL's
own share is read from its statistics (commits and rows written during the run) and the size
the run added to the schema, so the sizing in docs/fleet.md follows from measured figures.

    python -m bench.fleet [--agents 1 4 16] [--decisions 150] [--database-url URL] [--json FILE]

The agents, their simulated clusters and PostgreSQL share one machine: with more agents than
cores the figure is bounded by the agents' CPU, not by the database (the section says which).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import psycopg

from agent.app import build_agent
from agent.intake import parse_gettable_alerts
from agent.store import Store
from bench.storm import NAMES, TARGETS, _alert, storm_world
from bench.suite import quiet_logs

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 50
COMMAND = "python -m bench.fleet --agents {agents} --decisions {decisions}"


@dataclass(frozen=True)
class AgentRun:
    """What one agent process measured."""

    cluster: str
    decisions: int
    started: float
    """time.time() when deciding began (the shared instant)."""
    finished: float
    decide_p50_ms: float
    decide_p99_ms: float


@dataclass(frozen=True)
class FleetResult:
    """One fleet size."""

    agents: int
    decisions: int
    wall_seconds: float
    decisions_per_second: float
    per_agent_per_second: float
    decide_p50_ms: float
    decide_p99_ms: float
    transactions_per_decision: float
    rows_per_decision: float
    bytes_per_decision: float
    database_cpu_ms_per_decision: float
    """CPU time of every PostgreSQL server process on this machine during the run, per decision."""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def worker(url: str, cluster: str, decisions: int) -> None:
    """One agent: build its cluster, say `ready`, wait for `go` on stdin, decide, print JSON."""
    quiet_logs()
    with storm_world(f"scutum-fleet-{cluster}-") as (clock, base):
        settings = base.model_copy(
            update={
                "database": base.database.model_copy(update={"url": url, "migrate_on_start": False}),
                "agent": base.agent.model_copy(update={"cluster": cluster, "identity": "scutum-0"}),
            }
        )
        agent = build_agent(settings, clock=clock.now)
        try:
            agent.start(schedule=False, poll=False)
            now = clock.now()
            alerts = [
                _alert(target, NAMES[name], now - timedelta(minutes=5), now + timedelta(minutes=4), now)
                for target, name in ((i % TARGETS, (i // TARGETS) % len(NAMES)) for i in range(decisions))
            ]
            print("ready", flush=True)
            sys.stdin.readline()  # go
            service: list[float] = []
            started = time.time()
            for offset in range(0, len(alerts), BATCH):
                result = agent.pipeline.intake.ingest_batch(
                    parse_gettable_alerts(alerts[offset : offset + BATCH]), now=now
                )
                new, result.new = result.new, []
                agent.pipeline.handle(result, now=now)
                for incident in new:
                    begun = time.perf_counter()
                    agent.pipeline.decide(incident, now=now)
                    service.append(time.perf_counter() - begun)
            finished = time.time()
        finally:
            agent.stop()
    run = AgentRun(cluster, len(service), started, finished, _percentile(service, 0.5), _percentile(service, 0.99))
    print(json.dumps(asdict(run)), flush=True)


def _schema(dsn: str) -> tuple[str, str]:
    """A fresh schema and the SQLAlchemy URL on it."""
    schema = f"scutum_fleet_{uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in dsn else "?"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1) + f"{separator}options=-csearch_path%3D{schema}"
    return schema, url


def _database_counters(dsn: str, schema: str) -> tuple[int, int, int]:
    """Transactions committed in the database, rows inserted into the schema's tables, its bytes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
        rows = conn.execute(
            "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE schemaname = %s", (schema,)
        ).fetchone()
        size = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()
    return int(commits[0]) if commits else 0, int(rows[0]) if rows else 0, int(size[0]) if size else 0


def _postgres_cpu_seconds() -> float:
    """User + system CPU seconds of the PostgreSQL server processes and their ended children (read
    from /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if name.startswith("postgres"):
            # utime, stime, cutime, cstime (fields 14-17): backends that ended are in the
            # postmaster's children's time, so connections closed during the run still count
            total += sum(int(value) for value in rest[11:15])
    return total / ticks


def run_fleet(agents: int, decisions: int, *, dsn: str = DEFAULT_DSN) -> FleetResult:
    """Start `agents` agent processes on one fresh schema, let them decide at once, measure."""
    schema, url = _schema(dsn)
    try:
        store = Store.connect(url)
        store.upgrade()
        store.close()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.fleet", "--worker", url, f"c{n:02d}", str(decisions)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(agents)
        ]
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"an agent did not start: {line!r}")
        time.sleep(2)  # the counters settle (statistics are sent at most every 500 ms)
        commits_before, rows_before, bytes_before = _database_counters(dsn, schema)
        cpu_before = _postgres_cpu_seconds()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        runs = []
        for proc in procs:
            out, _ = proc.communicate(timeout=3600)
            runs.append(AgentRun(**json.loads(out.strip().splitlines()[-1])))
        cpu_after = _postgres_cpu_seconds()
        time.sleep(2)
        commits_after, rows_after, bytes_after = _database_counters(dsn, schema)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    total = sum(r.decisions for r in runs)
    wall = max(r.finished for r in runs) - min(r.started for r in runs)
    return FleetResult(
        agents=agents,
        decisions=total,
        wall_seconds=wall,
        decisions_per_second=total / wall,
        per_agent_per_second=total / wall / agents,
        decide_p50_ms=sorted(r.decide_p50_ms for r in runs)[len(runs) // 2],
        decide_p99_ms=max(r.decide_p99_ms for r in runs),
        transactions_per_decision=(commits_after - commits_before) / total,
        rows_per_decision=(rows_after - rows_before) / total,
        bytes_per_decision=(bytes_after - bytes_before) / total,
        database_cpu_ms_per_decision=(cpu_after - cpu_before) * 1000 / total,
    )


def section(results: list[FleetResult], *, decisions: int, when: str, machine: str) -> list[str]:
    """The `<!-- bench:fleet -->` section of docs/benchmarks.md."""
    agents = " ".join(str(r.agents) for r in results)
    lines = [
        "## Fleet on one PostgreSQL",
        "",
        f"Command: `{COMMAND.format(agents=agents, decisions=decisions)}`, run on {when} ({machine}).",
        "Each agent is its own process with its own cluster name and its own simulated cluster (400",
        "Deployments; a tenth rolled out an hour before, so their alerts are probed for a rollback), all",
        "on one PostgreSQL schema on the same machine; shadow mode (decided and recorded, nothing run).",
        f"Every agent decides {decisions} alerts on distinct targets, all agents starting at the same instant.",
        "Transactions (reads included: each store read is one), rows inserted and bytes the schema grew by",
        "are PostgreSQL's own statistics over the run, per decision; PostgreSQL CPU is the user and system",
        "time of its server processes over the run (from /proc), per decision.",
        "",
        "| agents | decisions | wall, s | decisions/s (fleet) | per agent | decide p50 / p99, ms "
        "| transactions / decision | rows / decision | bytes / decision | PostgreSQL CPU / decision, ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.agents} | {r.decisions:,} | {r.wall_seconds:.1f} | {r.decisions_per_second:.1f} "
            f"| {r.per_agent_per_second:.1f} | {r.decide_p50_ms:.1f} / {r.decide_p99_ms:.1f} "
            f"| {r.transactions_per_decision:.1f} | {r.rows_per_decision:.1f} | {r.bytes_per_decision:,.0f} "
            f"| {r.database_cpu_ms_per_decision:.2f} |"
        )
    cores = os.cpu_count() or 1
    lines += [
        "",
        f"This machine has {cores} CPU cores shared by the agents, their simulated clusters and PostgreSQL:",
        "beyond that many agents the fleet's rate is bounded by the agents' Python CPU (each decision plans,",
        "probes and scores in the agent), not by the database; in production each agent runs in its own",
        "cluster. Sizing from these figures: [fleet.md](fleet.md#sizing-postgresql).",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the fleet sizes and print one line each (and JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--decisions", type=int, default=150, help="decisions per agent")
    parser.add_argument("--database-url", default=DEFAULT_DSN, help="a libpq URL (postgresql://...)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=3, metavar=("URL", "CLUSTER", "DECISIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return 0
    results = []
    for count in args.agents:
        result = run_fleet(count, args.decisions, dsn=args.database_url)
        results.append(result)
        print(
            f"{count:>3} agents  {result.decisions:>6} decisions  {result.decisions_per_second:>7.1f}/s "
            f"({result.per_agent_per_second:.1f} per agent)  p50/p99 {result.decide_p50_ms:.1f}/"
            f"{result.decide_p99_ms:.1f} ms  {result.transactions_per_decision:.1f} transactions, "
            f"{result.rows_per_decision:.1f} rows, {result.bytes_per_decision:,.0f} B, "
            f"{result.database_cpu_ms_per_decision:.2f} ms PostgreSQL CPU per decision",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
