"""HTTP storm: Alertmanager webhook notifications POSTed as JSON bytes to a real `scutum run`.

`scutum run` (its own process) serves a simulated cluster with `DEPLOYMENTS` real Deployments,
in shadow mode (it decides and records, never acts). Every POST is one notification in
Alertmanager's webhook shape (version 4, groupKey, group/common labels and annotations,
externalURL) carrying `PER_POST` alerts, each with 12 labels and 3 annotations. Alerts are mixed:
in each POST `NEW_PER_POST` have a fingerprint never sent before (a new alert on one of the
Deployments: the first on a Deployment opens an incident that is decided, later ones join it),
the rest repeat alerts already sent (Alertmanager re-sends every firing alert each group
interval). The bodies are generated and encoded before any clock starts.

`CLIENTS` client processes send the bodies over keep-alive connections (a 429 is retried after
its Retry-After, as Alertmanager would), while another process probes `/healthz` every 10 ms.
Measured in one run:

- ingested alerts per second: alerts answered 202 (parsed, validated, cleaned, queued) over the
  wall time from the first POST to the last answer;
- the queue's drain: seconds after the last answer until the agent's decision queue is empty
  (every accepted alert through intake, each new incident decided);
- `/healthz` latency percentiles during the storm;
- the parse floor: `TypeAdapter(WebhookPayload).validate_json` on the same bytes, timed alone in
  this process after the storm (nothing else running), and the ratio of the two rates.

    python -m bench.http_storm [--posts N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from agent.intake.alerts import WebhookPayload
from bench.flood import _peak_rss_mb, _seed, scutum_run
from simcluster.harness import start_sim
from tests.e2e.alertmanager import free_port

POSTS = 3000
PER_POST = 100
NEW_PER_POST = 20
"""Alerts in each POST with a fingerprint never sent before; the rest repeat earlier ones."""
DEPLOYMENTS = 200
CLIENTS = 3
ALERT_NAMES = (
    "KubeDeploymentReplicasMismatch",
    "KubePodCrashLooping",
    "KubePodNotReady",
    "KubeContainerWaiting",
    "KubeDeploymentRolloutStuck",
)
DRAIN_DEADLINE_SECONDS = 600.0


@dataclass
class HttpStormResult:
    """What one storm measured."""

    posts: int
    alerts: int
    new_alerts: int
    clients: int
    accepted_alerts: int
    refused_429: int
    other_errors: int
    storm_seconds: float
    ingested_per_second: float
    post_p50_ms: float
    post_p99_ms: float
    drain_seconds: float
    healthz_probes: int
    healthz_p50_ms: float
    healthz_p99_ms: float
    healthz_max_ms: float
    floor_per_second: float
    """`TypeAdapter(WebhookPayload).validate_json` alone over the same bodies, alerts per second."""
    ratio_to_floor: float
    agent_peak_rss_mb: float
    body_kb: float
    agent_cpu_us_per_alert: float = 0.0
    """The agent process's CPU time (user + system, every thread) from the first client's start to
    the queue drained, per alert accepted: what ingesting one alert costs the agent, whatever else
    shares the machine."""


def _alert(namespace: str, deployment: str, name: str, n: int, now: datetime) -> dict[str, Any]:
    labels = {
        "alertname": name,
        "namespace": namespace,
        "deployment": deployment,
        "severity": "warning",
        "job": "kube-state-metrics",
        "container": "kube-state-metrics",
        "endpoint": "http",
        "instance": "10.0.3.7:8080",
        "pod": f"{deployment}-7d9f8b6c5-{n:06d}",
        "service": "kube-state-metrics",
        "prometheus": "monitoring/k8s",
        "cluster": "bench",
    }
    annotations = {
        "summary": f"{name} on {namespace}/{deployment}.",
        "description": f"Deployment {namespace}/{deployment} has fired {name} for 15 minutes.",
        "runbook_url": f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{name.lower()}",
    }
    return {
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=up",
        "fingerprint": f"{n:016x}",
    }


def _notification(alerts: list[dict[str, Any]]) -> bytes:
    first = alerts[0]["labels"]
    body = {
        "version": "4",
        "groupKey": '{}/{severity="warning"}:{namespace="' + first["namespace"] + '"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "scutum",
        "groupLabels": {"namespace": first["namespace"]},
        "commonLabels": {"severity": "warning", "cluster": "bench"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": alerts,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def bodies(posts: int, real: list[tuple[str, str]], *, seed: int = 0) -> tuple[list[bytes], int]:
    """The POST bodies (each `PER_POST` alerts, `NEW_PER_POST` of them new) and how many alerts were new."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sent: list[dict[str, Any]] = []
    out = []
    for _ in range(posts):
        fresh: list[dict[str, Any]] = []
        for _ in range(NEW_PER_POST):
            namespace, deployment = rng.choice(real)
            fresh.append(_alert(namespace, deployment, rng.choice(ALERT_NAMES), len(sent) + len(fresh), now))
        repeats = [rng.choice(sent) for _ in range(PER_POST - NEW_PER_POST)] if sent else []
        sent.extend(fresh)
        alerts = fresh + repeats
        while len(alerts) < PER_POST:  # the very first POST: nothing to repeat yet
            alerts.append(fresh[len(alerts) % len(fresh)])
        rng.shuffle(alerts)
        out.append(_notification(alerts))
    return out, len(sent)


# --- the client and probe processes ----------------------------------------------------------


def _connect(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection with Nagle's algorithm off, as HTTP clients set it: http.client
    sends a large body apart from its headers, and Nagle plus the server's delayed ACK would
    otherwise add ~40 ms to every request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def client(port: int, path: Path, part: int, parts: int, start_at: float) -> dict[str, Any]:
    """Send every `parts`-th body from `path` (one per line), starting at wall time `start_at`."""
    mine = path.read_bytes().split(b"\n")[part::parts]
    connection = _connect(port)
    headers = {"Content-Type": "application/json"}
    accepted = refused = errors = 0
    spans = []
    time.sleep(max(0.0, start_at - time.time()))
    first = time.time()
    for body in mine:
        while True:
            began = time.perf_counter()
            connection.request("POST", "/alertmanager", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            spans.append(time.perf_counter() - began)
            if response.status == 202:
                accepted += PER_POST
                break
            if response.status == 429:
                refused += 1
                time.sleep(min(1.0, float(response.getheader("Retry-After") or "1")))
                continue
            errors += 1
            break
    return {
        "accepted": accepted,
        "refused": refused,
        "errors": errors,
        "first": first,
        "last": time.time(),
        "spans": spans,
    }


def probe(port: int, seconds: float, out: list[float]) -> None:
    """GET /healthz every 10 ms for `seconds` (or until interrupted), each latency into `out`."""
    connection = _connect(port)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        out.append(time.perf_counter() - began)
        time.sleep(0.01)


# --- the run ---------------------------------------------------------------------------------


def _config(workdir: Path, sim_url: str, port: int) -> Path:
    settings = {
        "kube": {"url": sim_url},
        "http": {"port": port, "rate_limit_per_source": 0},
        "alertmanager": {"poll_interval_seconds": 3600},
        "policy": {"shadow": True},
        "logging": {"level": "error", "json": "true"},
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _queue_depth(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10.0).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("scutum_decision_queue_depth{")
    )


def _floor(payloads: list[bytes]) -> float:
    """Alerts per second that validation alone reaches on these bytes (best of three passes)."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(WebhookPayload)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for body in payloads:
            adapter.validate_json(body)
        best = min(best, time.perf_counter() - began)
    return len(payloads) * PER_POST / best


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def run(posts: int = POSTS) -> HttpStormResult:
    """One storm against one `scutum run` process."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-http-storm-"))
    sim = start_sim("bare", kubeconfig_path=workdir / "kubeconfig")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        real = _seed(sim, DEPLOYMENTS)
        payloads, new_alerts = bodies(posts, real)
        path = workdir / "bodies"
        path.write_bytes(b"\n".join(payloads))
        with scutum_run(base, "--config", str(_config(workdir, sim.url, port)), "--data-dir", str(workdir)) as process:
            result = _storm(base, port, path, process, payloads, new_alerts)
    finally:
        sim.stop()
    return result


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench.http_storm", *args], stdout=subprocess.PIPE, text=True)


def _storm(
    base: str, port: int, path: Path, process: subprocess.Popen[bytes], payloads: list[bytes], new_alerts: int
) -> HttpStormResult:
    start_at = time.time() + 8.0  # the clients' interpreters start and read their bodies first
    clients = [_spawn("--client", str(port), str(path), str(n), str(CLIENTS), str(start_at)) for n in range(CLIENTS)]
    prober = _spawn("--probe", str(port), "3600")
    time.sleep(max(0.0, start_at - time.time() - 0.05))
    cpu_before = _cpu_seconds(process.pid)
    reports = [json.loads(c.communicate()[0]) for c in clients]
    drained_from = time.time()
    prober.send_signal(signal.SIGINT)
    probes = json.loads(prober.communicate()[0] or "[]")
    while _queue_depth(base) > 0 and time.time() - drained_from < DRAIN_DEADLINE_SECONDS:
        time.sleep(0.1)
    drain = time.time() - drained_from
    cpu = _cpu_seconds(process.pid) - cpu_before
    rss = _peak_rss_mb(process.pid)
    storm_seconds = max(r["last"] for r in reports) - min(r["first"] for r in reports)
    accepted = sum(r["accepted"] for r in reports)
    spans = [s for r in reports for s in r["spans"]]
    ingested = accepted / storm_seconds
    floor = _floor(payloads)
    return HttpStormResult(
        posts=len(payloads),
        alerts=len(payloads) * PER_POST,
        new_alerts=new_alerts,
        clients=CLIENTS,
        accepted_alerts=accepted,
        refused_429=sum(r["refused"] for r in reports),
        other_errors=sum(r["errors"] for r in reports),
        storm_seconds=storm_seconds,
        ingested_per_second=ingested,
        post_p50_ms=statistics.median(spans) * 1000 if spans else 0.0,
        post_p99_ms=_percentile(spans, 0.99),
        drain_seconds=drain,
        healthz_probes=len(probes),
        healthz_p50_ms=_percentile(probes, 0.5),
        healthz_p99_ms=_percentile(probes, 0.99),
        healthz_max_ms=max(probes, default=0.0) * 1000,
        floor_per_second=floor,
        ratio_to_floor=floor / ingested if ingested else float("inf"),
        agent_peak_rss_mb=rss,
        body_kb=statistics.mean(len(b) for b in payloads) / 1024,
        agent_cpu_us_per_alert=cpu / accepted * 1e6 if accepted else 0.0,
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SECTION = "## HTTP storm: Alertmanager notifications to a real `scutum run`"


def _table(r: HttpStormResult) -> str:
    rows = [
        ("measure", "value", "target"),
        ("---", "---", "---"),
        ("alerts ingested per second (answered 202: parsed, validated, cleaned, queued)",
         f"{r.ingested_per_second:,.0f}", "≥ 50,000"),
        ("parse floor: `TypeAdapter(WebhookPayload).validate_json` alone, same bytes, alerts/s",
         f"{r.floor_per_second:,.0f}", ""),
        ("ratio floor / ingested", f"x{r.ratio_to_floor:.1f}", "≤ x5"),
        ("agent CPU time per accepted alert, µs (every thread: HTTP, parse, queue, intake, decisions) / "
         "as a multiple of the floor's time per alert",
         f"{r.agent_cpu_us_per_alert:.1f} / x{r.agent_cpu_us_per_alert * r.floor_per_second / 1e6:.1f}", ""),
        ("POST latency p50 / p99, ms", f"{r.post_p50_ms:.1f} / {r.post_p99_ms:.1f}", ""),
        (f"`/healthz` p50 / p99 / max during the storm, ms ({r.healthz_probes:,} probes)",
         f"{r.healthz_p50_ms:.1f} / {r.healthz_p99_ms:.1f} / {r.healthz_max_ms:.1f}", "p99 ≤ 50"),
        ("POSTs refused 429 (retried) / other errors", f"{r.refused_429:,} / {r.other_errors:,}", ""),
        ("storm wall time, s", f"{r.storm_seconds:.1f}", ""),
        ("queue drained after the last answer, s (every accepted alert through intake)", f"{r.drain_seconds:.1f}", ""),
        ("agent peak RSS (VmHWM), MB", f"{r.agent_peak_rss_mb:.0f}", ""),
    ]  # fmt: skip
    return "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)


def render(
    r: HttpStormResult, *, command: str = "python -m bench.http_storm", when: str = "", machine: str = ""
) -> str:
    """The docs/benchmarks.md section."""
    ran = f", run on {when} ({machine}; a machine shared with other work)" if when else ""
    return f"""
{SECTION}

`{command}`{ran}: {r.posts:,} POSTs of {PER_POST} alerts each ({r.alerts:,} alerts, {r.body_kb:.0f} KB a body;
12 labels and 3 annotations an alert, Alertmanager's webhook shape) from {r.clients} client processes
over keep-alive connections to `scutum run` (its own process, shadow mode, {DEPLOYMENTS} Deployments on a
simulated cluster). {NEW_PER_POST} alerts in each POST are new ({r.new_alerts:,} in all; the first on a
Deployment opens an incident, which is decided), the rest repeat earlier ones. Bodies are generated
before the clock starts; `/healthz` is probed every 10 ms from another process during the storm.

{_table(r)}

Reading it: the ratio to the floor sets a storm that shares the machine's two cores between
`scutum run`, {r.clients} client processes and the prober against a floor timed alone on one core;
the agent's CPU time per accepted alert (all its threads) against the floor's time per alert does not
depend on what else runs. The edge is uvicorn on httptools; a body up to 256 KiB whose text needs
no cleaning is validated in one call and queued on the event loop itself (msgspec when the body is
plain ASCII with only quote, backslash and slash escapes, pydantic with the cleaning patterns
otherwise), anything else is parsed on a worker thread; the decision worker then folds the repeated
alerts into their incidents and decides the new ones, under the same interpreter lock.

Why the agent's CPU per alert is several times the floor's, when its parse alone is not:
`python -m bench.webhook_parts` times the pieces in one process. The plain path parses the same
bodies in less than the floor's time when it runs alone, but parsing on one thread and folding on
another, as the edge and the decision worker do, costs each side 30 to 40% more than doing both on
one thread (batches cross cores, and the interpreter lock changes hands), and uvicorn, the triage
and the queue come on top. Folding on the event loop would save the hand-off but put intake, and
the pipeline's lock it shares with decisions, on the thread that answers `/healthz`.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the storm (or be one of its client or probe processes)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=POSTS)
    parser.add_argument("--json", type=Path, help="write the result to this file")
    parser.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        port, path, part, parts, start_at = args.client
        print(json.dumps(client(int(port), Path(path), int(part), int(parts), float(start_at))))
        return 0
    if args.probe:
        found: list[float] = []
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            probe(int(args.probe[0]), float(args.probe[1]), found)
        print(json.dumps(found))
        return 0
    result = run(args.posts)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
