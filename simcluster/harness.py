"""Start a simulated cluster and its API server in the background: for tests, the demo and benchmarks.

with running_sim("sample") as sim:
    subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig_path, "get", "pods", "-A"])
    sim.cluster.tick(5)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from simcluster.clock import Clock, SystemClock
from simcluster.cluster import SimCluster
from simcluster.server import ApiServer


def write_kubeconfig(path: Path, url: str, *, namespace: str = "default") -> Path:
    """Write a kubeconfig (one cluster, one context, no auth) pointing at `url`; returns `path`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "simcluster", "cluster": {"server": url}}],
        "users": [{"name": "simcluster", "user": {}}],
        "contexts": [
            {"name": "simcluster", "context": {"cluster": "simcluster", "user": "simcluster", "namespace": namespace}}
        ],
        "current-context": "simcluster",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class RunningSim:
    """A simulated cluster served over HTTP; `stop()` ends the server and the auto-tick thread."""

    def __init__(self, cluster: SimCluster, server: ApiServer, kubeconfig_path: Path, *, auto_tick: float | None):
        self.cluster = cluster
        self.server = server
        self.url = server.url
        self.kubeconfig_path = kubeconfig_path
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if auto_tick is not None:
            self._ticker = threading.Thread(target=self._tick_loop, args=(auto_tick,), name="simcluster-tick")
            self._ticker.daemon = True
            self._ticker.start()

    def _tick_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.cluster.tick(interval)

    def stop(self) -> None:
        """Stop ticking and serving (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.server.stop()


def start_sim(
    estate: str = "sample",
    *,
    clock: Clock | None = None,
    seed: int = 0,
    auto_tick: float | None = None,
    kubeconfig_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningSim:
    """Build a cluster with `estate`, serve it and write its kubeconfig; the caller must `stop()` it."""
    if clock is None and auto_tick is not None:
        clock = SystemClock()
    cluster = SimCluster(clock, seed=seed)
    cluster.load_estate(estate)
    server = ApiServer(cluster.store, cluster, host=host, port=port).start()
    write_kubeconfig(kubeconfig_path, server.url)
    return RunningSim(cluster, server, kubeconfig_path, auto_tick=auto_tick)


@contextmanager
def running_sim(
    estate: str = "sample", *, clock: Clock | None = None, seed: int = 0, auto_tick: float | None = None
) -> Iterator[RunningSim]:
    """A simulated cluster on 127.0.0.1 (free port) with a kubeconfig in a temporary directory.

    `auto_tick` is the wall seconds between automatic controller passes; None leaves ticking to
    the caller (`sim.cluster.tick(seconds)`), which keeps tests deterministic.
    """
    workdir = Path(tempfile.mkdtemp(prefix="simcluster-"))
    sim = start_sim(estate, clock=clock, seed=seed, auto_tick=auto_tick, kubeconfig_path=workdir / "kubeconfig")
    try:
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
