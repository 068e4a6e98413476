"""The alert pusher speaks Alertmanager's POST /api/v2/alerts as Prometheus does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simcluster.pusher import AlertPusher

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    batches: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            batches.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", batches
    server.shutdown()
    server.server_close()


def alert(name: str, fingerprint: str) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "namespace": "shop"},
        "annotations": {"summary": name},
        "startsAt": "2026-03-01T11:45:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
        "generatorURL": "http://simcluster/rules",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }


def test_firing_alerts_are_posted_with_a_future_end_and_resolutions_with_now(receiver: Any) -> None:
    url, batches = receiver
    firing = [alert("KubePodCrashLooping", "a1"), alert("KubePodNotReady", "b2")]
    pusher = AlertPusher(url, lambda: list(firing), wall=lambda: NOW, resend_seconds=30)
    assert pusher.push_once() == 2
    path, sent = batches[-1]
    assert path == "/api/v2/alerts"
    assert {a["labels"]["alertname"] for a in sent} == {"KubePodCrashLooping", "KubePodNotReady"}
    assert all(a["endsAt"] == "2026-03-01T12:02:00Z" and "fingerprint" not in a for a in sent)

    firing.pop()  # KubePodNotReady stops firing
    assert pusher.push_once() == 2
    _, sent = batches[-1]
    ends = {a["labels"]["alertname"]: a["endsAt"] for a in sent}
    assert ends == {"KubePodCrashLooping": "2026-03-01T12:02:00Z", "KubePodNotReady": "2026-03-01T12:00:00Z"}


def test_an_unreachable_alertmanager_is_counted_not_raised() -> None:
    pusher = AlertPusher("http://127.0.0.1:9", lambda: [alert("X", "c3")], wall=lambda: NOW, timeout=0.5)
    pusher.push_once()
    assert pusher.errors == 1
