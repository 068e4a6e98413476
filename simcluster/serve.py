"""`scutum sim serve`: run the simulated cluster in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from simcluster.clock import SystemClock
from simcluster.harness import start_sim
from simcluster.pusher import AlertPusher

TICK_SECONDS = 1.0


def serve(
    port: int,
    kubeconfig: Path,
    *,
    scenario: str | None,
    bare: bool,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    stop: threading.Event | None = None,
    alertmanager: str | None = None,
) -> None:
    """Serve a cluster on `host:port` and write its kubeconfig; blocks until a signal or `stop` is set.

    `bare` starts three Ready nodes and nothing else; `scenario` injects that named fault once
    the sample estate is up; `speed` makes simulated time run faster than the wall clock;
    `alertmanager` (a URL) receives the firing alerts, as from Prometheus.
    """
    done = stop or threading.Event()
    sim = start_sim(
        "bare" if bare else "sample",
        clock=SystemClock(speed),
        auto_tick=TICK_SECONDS,
        kubeconfig_path=kubeconfig,
        host=host,
        port=port,
    )
    previous: dict[signal.Signals, Any] = {}
    pusher: AlertPusher | None = None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        done.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        sim.cluster.run_controllers()
        if scenario:
            sim.cluster.inject(scenario)
        if alertmanager:
            pusher = AlertPusher(alertmanager, sim.cluster.firing_alerts)
            pusher.start(TICK_SECONDS * 5)
        print(f"simcluster serving at {sim.url}; kubeconfig written to {kubeconfig}", flush=True)
        done.wait()
    finally:
        if pusher is not None:
            pusher.stop()
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
