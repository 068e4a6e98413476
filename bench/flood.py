"""Flood: alerts about objects that do not exist, pushed over HTTP while genuine incidents arrive.

`scutum run` (its own process, so its peak RSS is its own) serves a simulated cluster with a
few real Deployments, in shadow mode, Slack in HTTP mode against a local fake Web API. One
thread pushes `FLOOD` alerts about Deployments that do not exist to `POST /alertmanager` in
batches of `BATCH`, retrying a 429 like Alertmanager would; another pushes `GENUINE` alerts
about real Deployments, spread over the flood; two more probe `/healthz` and send signed Slack
clicks. Measured in one run: whether every genuine incident was decided (read from the store)
and how long it took, `/healthz` and Slack-ack latency percentiles during the flood, how the
queue pushed back, and the agent's peak RSS (VmHWM).

`python -m bench.flood [--flood N] [--genuine N] [--json FILE]`
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from agent.intake.alerts import parse_webhook
from agent.intake.incidents import group_key, incident_id
from agent.store import Store
from simcluster.harness import start_sim
from tests.approvals.fake_slack import FakeSlack
from tests.e2e.alertmanager import free_port

FLOOD = 100_000
GENUINE = 20
BATCH = 500
"""Alerts per push (an Alertmanager notification groups many alerts)."""
NAMESPACES = 4
SECRET = "bench-signing-secret"
PUSH_DEADLINE_SECONDS = 300.0
"""The flood pusher stops retrying refused batches after this long."""
DECIDE_DEADLINE_SECONDS = 120.0
SCUTUM = Path(sys.executable).parent / "scutum"


@dataclass
class FloodResult:
    """What one run measured."""

    flood_alerts: int
    genuine: int
    genuine_decided: int
    genuine_decide_p50_s: float
    genuine_decide_max_s: float
    pushes: int
    pushes_accepted: int
    pushes_refused_429: int
    flood_alerts_accepted: int
    push_seconds: float
    healthz_p50_ms: float
    healthz_p99_ms: float
    healthz_max_ms: float
    healthz_probes: int
    slack_ack_p50_ms: float
    slack_ack_p99_ms: float
    slack_ack_max_ms: float
    slack_clicks: int
    slack_non_2xx: int
    slack_statuses: dict[str, int]
    agent_peak_rss_mb: float


def _alert(namespace: str, deployment: str, name: str, fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "namespace": namespace, "deployment": deployment, "severity": "warning"},
        "annotations": {"summary": f"{deployment} is unhappy"},
        "startsAt": datetime.now(UTC).isoformat(),
        "fingerprint": fingerprint,
    }


def _payload(alerts: list[dict[str, Any]]) -> bytes:
    body = {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "scutum", "alerts": alerts}
    return json.dumps(body).encode()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass
class _Counters:
    pushes: int = 0
    accepted: int = 0
    refused: int = 0
    flood_accepted: int = 0
    healthz: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    ack_errors: int = 0
    ack_statuses: dict[str, int] = field(default_factory=dict)
    genuine_sent: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _push(client: httpx.Client, base: str, body: bytes, counters: _Counters, deadline: float) -> bool:
    """POST one notification, retrying 429 like Alertmanager; True once accepted."""
    while time.monotonic() < deadline:
        response = client.post(f"{base}/alertmanager", content=body)
        with counters.lock:
            counters.pushes += 1
            if response.status_code == 429:
                counters.refused += 1
            elif response.is_success:
                counters.accepted += 1
        if response.status_code != 429:
            return response.is_success
        time.sleep(min(1.0, float(response.headers.get("Retry-After", "1"))))
    return False


def _flood(base: str, flood: int, counters: _Counters, deadline: float, done: threading.Event) -> None:
    with httpx.Client(timeout=30.0) as client:
        for start in range(0, flood, BATCH):
            alerts = [
                _alert(f"team-{i % NAMESPACES}", f"ghost-{i}", "KubeDeploymentReplicasMismatch", f"ghost-{i}")
                for i in range(start, min(flood, start + BATCH))
            ]
            if _push(client, base, _payload(alerts), counters, deadline):
                with counters.lock:
                    counters.flood_accepted += len(alerts)
    done.set()


def _genuine(base: str, real: list[tuple[str, str]], counters: _Counters, flood_done: threading.Event) -> None:
    spacing = 2.0
    with httpx.Client(timeout=30.0) as client:
        for namespace, name in real:
            alert = _alert(namespace, name, "KubeDeploymentReplicasMismatch", f"real-{namespace}-{name}")
            body = _payload([alert])
            [parsed] = parse_webhook(body).alerts
            key, _ = group_key(parsed)
            with counters.lock:
                counters.genuine_sent[incident_id(key, parsed)] = time.monotonic()
            _push(client, base, body, counters, time.monotonic() + PUSH_DEADLINE_SECONDS)
            if not flood_done.wait(spacing):
                continue


def _probe_health(base: str, counters: _Counters, stop: threading.Event) -> None:
    with httpx.Client(timeout=30.0) as client:
        while not stop.is_set():
            began = time.perf_counter()
            client.get(f"{base}/healthz")
            counters.healthz.append(time.perf_counter() - began)
            stop.wait(0.02)


def _click_body(n: int) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "UBENCH"},
        "channel": {"id": "CAPPROVALS"},
        "actions": [{"action_id": "scutum_approve", "value": f"req-bench-{n}", "block_id": "scutum_decision"}],
    }
    return ("payload=" + quote(json.dumps(payload))).encode()


def _click(base: str, counters: _Counters, stop: threading.Event) -> None:
    n = 0
    with httpx.Client(timeout=30.0) as client:
        while not stop.is_set():
            n += 1
            body = _click_body(n)
            stamp = str(int(time.time()))
            digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
            headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
            began = time.perf_counter()
            response = client.post(f"{base}/slack/events", content=body, headers=headers)
            counters.acks.append(time.perf_counter() - began)
            if not response.is_success:
                counters.ack_errors += 1
            key = str(response.status_code)
            counters.ack_statuses[key] = counters.ack_statuses.get(key, 0) + 1
            stop.wait(0.1)


@contextmanager
def scutum_run(base: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`scutum run ARGS` in its own process, once it answers `base`/readyz; stopped with SIGTERM
    (killed after a minute) on the way out."""
    process = subprocess.Popen([str(SCUTUM), "run", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(base, process)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scutum run exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("scutum run did not become ready")


def _decided(store: Store, ids: dict[str, float], decided_at: dict[str, float]) -> None:
    for incident in ids:
        if incident not in decided_at and store.incidents.get(incident) is not None:
            decided_at[incident] = time.monotonic()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _config(workdir: Path, sim_url: str, port: int, slack_url: str) -> Path:
    settings = {
        "kube": {"url": sim_url},
        "http": {"port": port},
        "alertmanager": {"poll_interval_seconds": 3600},
        "policy": {"shadow": True},
        "logging": {"level": "error", "json": "true"},
        "approvals": {"approver_user_ids": ["UBENCH"]},
        "slack": {
            "enabled": True,
            "mode": "http",
            "bot_token": "xoxb-bench",
            "signing_secret": SECRET,
            "channel": "CAPPROVALS",
            "base_url": slack_url,
            "max_retries": 0,
        },
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def _seed(sim: Any, genuine: int) -> list[tuple[str, str]]:
    store = sim.cluster.store
    for n in range(NAMESPACES):
        store.create("Namespace", {"metadata": {"name": f"team-{n}"}})
    real = []
    for i in range(genuine):
        namespace, name = f"team-{i % NAMESPACES}", f"svc-{i:03d}"
        labels = {"app": name}
        container = {"name": "main", "image": f"registry.example/{name}:1.0"}
        store.create(
            "Deployment",
            {
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
            },
        )
        real.append((namespace, name))
    sim.cluster.settle(passes=3, seconds=2.0)
    return real


def run(flood: int = FLOOD, genuine: int = GENUINE) -> FloodResult:
    """One flood against one `scutum run` process."""
    workdir = Path(tempfile.mkdtemp(prefix="scutum-flood-"))
    sim = start_sim("bare", kubeconfig_path=workdir / "kubeconfig")
    slack = FakeSlack().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        real = _seed(sim, genuine)
        config = _config(workdir, sim.url, port, slack.base_url)
        with scutum_run(base, "--config", str(config), "--data-dir", str(workdir / "data")) as process:
            return _measure(base, process, real, flood, workdir)
    finally:
        slack.stop()
        sim.stop()


def _measure(
    base: str, process: subprocess.Popen[bytes], real: list[tuple[str, str]], flood: int, workdir: Path
) -> FloodResult:
    """Run the four threads, watch the store for the genuine incidents, collect the figures."""
    counters = _Counters()
    flood_done, stop = threading.Event(), threading.Event()
    started = time.monotonic()
    threads = [
        threading.Thread(target=_flood, args=(base, flood, counters, started + PUSH_DEADLINE_SECONDS, flood_done)),
        threading.Thread(target=_genuine, args=(base, real, counters, flood_done)),
        threading.Thread(target=_probe_health, args=(base, counters, stop)),
        threading.Thread(target=_click, args=(base, counters, stop)),
    ]
    for thread in threads:
        thread.start()
    decided_at: dict[str, float] = {}
    store = Store.connect(f"sqlite:///{workdir / 'data' / 'scutum.db'}")
    try:
        while threads[0].is_alive() or threads[1].is_alive():
            _decided(store, dict(counters.genuine_sent), decided_at)
            time.sleep(0.2)
        push_seconds = time.monotonic() - started
        stop.set()
        for thread in threads[2:]:
            thread.join()
        deadline = time.monotonic() + DECIDE_DEADLINE_SECONDS
        while len(decided_at) < len(counters.genuine_sent) and time.monotonic() < deadline:
            _decided(store, dict(counters.genuine_sent), decided_at)
            time.sleep(0.2)
    finally:
        store.close()
    waits = [decided_at[i] - counters.genuine_sent[i] for i in decided_at]
    ms = 1000.0
    return FloodResult(
        flood_alerts=flood,
        genuine=len(real),
        genuine_decided=len(decided_at),
        genuine_decide_p50_s=_percentile(waits, 0.5),
        genuine_decide_max_s=max(waits, default=0.0),
        pushes=counters.pushes,
        pushes_accepted=counters.accepted,
        pushes_refused_429=counters.refused,
        flood_alerts_accepted=counters.flood_accepted,
        push_seconds=push_seconds,
        healthz_p50_ms=_percentile(counters.healthz, 0.5) * ms,
        healthz_p99_ms=_percentile(counters.healthz, 0.99) * ms,
        healthz_max_ms=max(counters.healthz, default=0.0) * ms,
        healthz_probes=len(counters.healthz),
        slack_ack_p50_ms=_percentile(counters.acks, 0.5) * ms,
        slack_ack_p99_ms=_percentile(counters.acks, 0.99) * ms,
        slack_ack_max_ms=max(counters.acks, default=0.0) * ms,
        slack_clicks=len(counters.acks),
        slack_non_2xx=counters.ack_errors,
        slack_statuses=dict(counters.ack_statuses),
        agent_peak_rss_mb=_peak_rss_mb(process.pid),
    )


SECTION = "## Flood: alerts about objects that do not exist"


def render(result: FloodResult, *, command: str = "python -m bench.flood") -> str:
    """The benchmarks.md section for one run."""
    r = result
    health = f"p50 {r.healthz_p50_ms:.1f} ms, p99 {r.healthz_p99_ms:.1f} ms, max {r.healthz_max_ms:.1f} ms"
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(r.slack_statuses.items()))
    ack = f"p50 {r.slack_ack_p50_ms:.1f} ms, p99 {r.slack_ack_p99_ms:.1f} ms, max {r.slack_ack_max_ms:.1f} ms"
    return f"""{SECTION}

`{command}`: {r.flood_alerts:,} alerts about Deployments that do not exist, pushed over HTTP to
`scutum run` (its own process) in notifications of {BATCH} alerts, while {r.genuine} alerts about
real Deployments arrive spread over the flood; `/healthz` probed every 20 ms and a signed Slack
click sent every 100 ms throughout. One run, shadow mode, SQLite, on the machine that ran it.

| measure | value |
|---|---|
| genuine incidents decided | {r.genuine_decided} of {r.genuine} |
| genuine: alert pushed → incident decided | p50 {r.genuine_decide_p50_s:.2f} s, max {r.genuine_decide_max_s:.2f} s |
| flood alerts accepted (202) | {r.flood_alerts_accepted:,} of {r.flood_alerts:,} |
| pushes / answered 429 (retried, like Alertmanager) | {r.pushes:,} / {r.pushes_refused_429:,} |
| pushing took | {r.push_seconds:.1f} s |
| `/healthz` during the flood | {health} ({r.healthz_probes:,} probes) |
| Slack ack during the flood | {ack} ({r.slack_clicks:,} clicks; answers by status: {statuses}) |
| agent peak RSS (VmHWM) | {r.agent_peak_rss_mb:.0f} MiB |

The flood's alerts wait in the decision queue's `doubtful` lane (their targets are not in the
watch cache) and are decided in small jobs after alerts about real targets; at the lane's
capacity the webhook answers 429 and the sender retries. Latencies are measured by clients in
the benchmark's own process (which also serves the simulated cluster), so they include its
scheduling.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the flood once and print (or write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=FLOOD)
    parser.add_argument("--genuine", type=int, default=GENUINE)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.flood, args.genuine)
    text = json.dumps(asdict(result), indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if result.genuine_decided == result.genuine else 1


if __name__ == "__main__":
    raise SystemExit(main())
