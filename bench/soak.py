"""Soak: many sequential incidents through the real daemon on the simulated cluster, with a
restart every so often, to show a long-running agent does not drift.

Each incident: a fault is injected, the daemon's own jobs run (`poll_once`, `dispatch`) until it
decides, its action runs and is verified, the alerts resolve, and half an hour of simulated time
passes. Every `restart_every` incidents the agent is stopped and a new one is built on the same
store. Reported: the auto-execution rate of the first and the last hundred (it must not fall),
open incidents at the end against the alerts still firing, the process's RSS at start and end,
and the store's growth per incident.

    python -m bench.soak --incidents 1000 --restart-every 100 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.app import Agent, build_agent
from agent.evaluate import Outcome
from agent.settings import Settings, load_settings
from bench.suite import quiet_logs
from risk.settings import PolicySettings, RiskSettings
from simcluster.clock import ManualClock
from simcluster.harness import RunningSim, start_sim

PAGE = 4096
GAP_SECONDS = 1800.0
"""Simulated time between incidents: past the cooldown, within the hourly budgets."""
Inject = Callable[[RunningSim, int], None]


def _scale_to_zero(namespace: str, name: str) -> Inject:
    def inject(sim: RunningSim, n: int) -> None:
        sim.cluster.inject("scale_to_zero", namespace=namespace, deployment=name)

    return inject


def _fault(fault: str, namespace: str, name: str) -> Inject:
    def inject(sim: RunningSim, n: int) -> None:
        sim.cluster.inject(fault, namespace=namespace, deployment=name)

    return inject


def _bad_image(namespace: str, name: str) -> Inject:
    """A rollout to an image that does not exist, with a new tag each time (a new revision)."""

    def inject(sim: RunningSim, n: int) -> None:
        def change(obj: dict[str, Any]) -> None:
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["image"] = str(container["image"]).rsplit(":", 1)[0] + f":doesnotexist-{n}"

        sim.cluster.store.mutate("Deployment", namespace, name, change)

    return inject


KINDS: tuple[tuple[str, Inject], ...] = (
    ("scale_to_zero shop/catalog", _scale_to_zero("shop", "catalog")),
    ("memory_limit_too_low shop/frontend", _fault("memory_limit_too_low", "shop", "frontend")),
    ("scale_to_zero payments/payments-api", _scale_to_zero("payments", "payments-api")),
    ("memory_limit_too_low shop/cart", _fault("memory_limit_too_low", "shop", "cart")),
)
"""Mixed kinds, cycled: scaling back from zero and rolling back a bad image."""


@dataclass
class SoakResult:
    incidents: int
    restart_every: int
    auto_executed_first_100: int
    auto_executed_last_100: int
    verdicts: dict[str, int] = field(default_factory=dict)
    open_incidents_end: int = 0
    firing_alerts_end: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    store_start_kb: float = 0.0
    store_end_kb: float = 0.0
    store_bytes_per_incident: float = 0.0
    restarts: int = 0
    wall_seconds: float = 0.0
    undecided: int = 0
    """Incidents for which no decision arrived (the fault never raised an alert the agent saw)."""


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1]) * PAGE / 2**20


def _store_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.glob("scutum.db*"))


def _settings(sim: RunningSim, data: Path) -> Settings:
    base = load_settings(None, env={})
    return base.model_copy(
        update={
            "data_dir": data,
            "kube": base.kube.model_copy(update={"url": sim.url}),
            "policy": PolicySettings.model_validate({**base.policy.model_dump(), "execute_max": 0.79}),
            # Always within business hours, so the hours passing do not change the scores compared.
            "risk": RiskSettings.model_validate(
                {**base.risk.model_dump(), "business_hours_utc": (0, 24), "business_weekdays": tuple(range(7))}
            ),
        }
    )


def _agent(sim: RunningSim, settings: Settings) -> Agent:
    agent = build_agent(
        settings,
        clock=sim.cluster.clock.now,
        use_cache=False,
        sleep=lambda s: sim.cluster.tick(10),
        verify_timeout_seconds=30.0,
    )
    agent.start(schedule=False)
    return agent


def _one(agent: Agent, sim: RunningSim, inject: Inject, n: int) -> str | None:
    """One incident through the daemon's jobs; the verdict of its first decision (None: none)."""
    inject(sim, n)
    verdict: str | None = None
    for _ in range(60):
        sim.cluster.tick(15)
        decided = [h for h in agent.poll_once() if h.joined is None]
        if decided:
            verdict = decided[0].evaluation.outcome.value
            break
    agent.executor.wait(timeout=120)
    agent.dispatch()
    for _ in range(40):
        sim.cluster.tick(15)
        agent.poll_once()
        if not sim.cluster.firing_alerts():
            break
    agent.executor.wait(timeout=120)
    sim.cluster.tick(GAP_SECONDS)
    agent.poll_once()
    agent.dispatch()
    return verdict


def run(
    incidents: int, restart_every: int, *, echo: Callable[[str], None] = print, verbose: bool = False
) -> SoakResult:
    """Run the soak and return its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-soak-"))
    data = workdir / "data"
    sim = start_sim("sample", clock=ManualClock(), kubeconfig_path=workdir / "kubeconfig")
    started = time.perf_counter()
    verdicts: list[str | None] = []
    try:
        sim.cluster.settle(passes=10, seconds=2.0)
        sim.cluster.tick(3600)
        sim.cluster.settle(passes=3, seconds=2.0)
        settings = _settings(sim, data)
        _agent(sim, settings).stop()  # a migrated, checkpointed store: the baseline size
        store_start = _store_bytes(data)
        agent = _agent(sim, settings)
        rss_start, restarts = _rss_mb(), 0
        for n in range(incidents):
            if n and n % restart_every == 0:
                agent.stop()
                agent, restarts = _agent(sim, settings), restarts + 1
            name, inject = KINDS[n % len(KINDS)]
            began = time.perf_counter()
            verdicts.append(_one(agent, sim, inject, n))
            if verbose:
                firing = sorted({a["labels"].get("alertname", "") for a in sim.cluster.firing_alerts()})
                echo(f"{n:>4} {name:<36} {verdicts[-1]}  {time.perf_counter() - began:.1f}s  firing {firing}")
            if (n + 1) % 50 == 0:
                executed = sum(v == Outcome.EXECUTE.value for v in verdicts[-50:])
                echo(f"{n + 1:>5} incidents  last 50 auto-executed {executed}  rss {_rss_mb():.0f} MB")
        open_end = agent.store.history.open_incidents()
        firing_end = len(sim.cluster.firing_alerts())
        agent.stop()
        store_end = _store_bytes(data)
        counts: dict[str, int] = {}
        for v in verdicts:
            counts[v or "none"] = counts.get(v or "none", 0) + 1
        return SoakResult(
            incidents=incidents,
            restart_every=restart_every,
            auto_executed_first_100=sum(v == Outcome.EXECUTE.value for v in verdicts[:100]),
            auto_executed_last_100=sum(v == Outcome.EXECUTE.value for v in verdicts[-100:]),
            verdicts=counts,
            open_incidents_end=open_end,
            firing_alerts_end=firing_end,
            rss_start_mb=round(rss_start, 1),
            rss_end_mb=round(_rss_mb(), 1),
            store_start_kb=round(store_start / 1024, 1),
            store_end_kb=round(store_end / 1024, 1),
            store_bytes_per_incident=round((store_end - store_start) / max(1, incidents)),
            restarts=restarts,
            wall_seconds=round(time.perf_counter() - started, 1),
            undecided=counts.get("none", 0),
        )
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--restart-every", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--verbose", action="store_true", help="one line per incident")
    args = parser.parse_args(argv)
    quiet_logs()
    result = run(args.incidents, args.restart_every, verbose=args.verbose)
    print(json.dumps(asdict(result), indent=2))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


COMMAND = "python -m bench.soak --incidents 1000 --restart-every 100 --json soak.json"


def render(result: SoakResult) -> str:
    """The soak's section of docs/benchmarks.md."""
    kinds = ", ".join(name for name, _ in KINDS)
    rows = [
        ("incidents (restarts)", f"{result.incidents} ({result.restarts}, one every {result.restart_every})"),
        ("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items()))),
        ("auto-executed, first 100", str(result.auto_executed_first_100)),
        ("auto-executed, last 100", str(result.auto_executed_last_100)),
        ("open incidents at the end (store)", str(result.open_incidents_end)),
        ("alerts still firing at the end", str(result.firing_alerts_end)),
        (
            "RSS at start / end (agent and simulated cluster, one process)",
            f"{result.rss_start_mb} / {result.rss_end_mb} MB",
        ),
        ("store at start / end", f"{result.store_start_kb} / {result.store_end_kb} KiB"),
        ("store growth per incident", f"{result.store_bytes_per_incident / 1024:.1f} KiB"),
        ("wall", f"{result.wall_seconds} s"),
    ]
    lines = [
        "## Soak (a long-running daemon does not drift)",
        "",
        f"Command: `{COMMAND}` (part of `make bench`).",
        "",
        "Sequential incidents through the daemon's own jobs (`poll_once`, `dispatch`) on the simulated",
        f"cluster, cycling {kinds}; each is decided, acted on, verified and resolved, then half an hour",
        "of simulated time passes. The agent is stopped and rebuilt on the same SQLite store every",
        f"{result.restart_every} incidents. Risk uses all-day business hours, so the figures compare the",
        "same decisions at the start and at the end.",
        "",
        "| measure | result |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    return "\n".join(lines) + "\n"
