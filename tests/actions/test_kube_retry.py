"""The adapter's one retry policy, against a tiny scripted HTTP server on localhost."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from actions.kube import Kube, PermanentError, RetryPolicy, TooManyRequestsError, TransientError

FAST = RetryPolicy(attempts=3, max_delay_seconds=2.0, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app", "namespace": "shop"}}


class Script:
    """Responses to give, in order; the last one repeats."""

    def __init__(self, responses: list[tuple[int, dict[str, str]]]) -> None:
        self.responses = responses
        self.hits = 0


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers = script.responses[min(script.hits, len(script.responses) - 1)]
            script.hits += 1
            body = json.dumps(CONFIGMAP if status == 200 else {"kind": "Status", "message": f"scripted {status}"})
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[ThreadingHTTPServer] = []

    def start(script: Script) -> Kube:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Kube.from_url(f"http://127.0.0.1:{server.server_port}", retry=FAST)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_429_is_retried_after_the_servers_retry_after(serve) -> None:
    script = Script([(429, {"Retry-After": "0.3"}), (200, {})])
    kube = serve(script)
    started = time.monotonic()
    assert kube.get("ConfigMap", "app", "shop")["metadata"]["name"] == "app"
    assert script.hits == 2
    assert time.monotonic() - started >= 0.3


def test_429_that_never_clears_raises_too_many_requests_after_the_attempts(serve) -> None:
    script = Script([(429, {"Retry-After": "0"})])
    kube = serve(script)
    with pytest.raises(TooManyRequestsError):
        kube.get("ConfigMap", "app", "shop")
    assert script.hits == FAST.attempts


def test_5xx_is_retried(serve) -> None:
    script = Script([(503, {}), (500, {}), (200, {})])
    assert serve(script).get("ConfigMap", "app", "shop")["kind"] == "ConfigMap"
    assert script.hits == 3


def test_400_is_not_retried(serve) -> None:
    script = Script([(400, {}), (200, {})])
    with pytest.raises(PermanentError, match="scripted 400"):
        serve(script).get("ConfigMap", "app", "shop")
    assert script.hits == 1


def test_connection_error_is_retried_then_raised_as_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kube = Kube.from_url(f"http://127.0.0.1:{port}", retry=FAST)
    with pytest.raises(TransientError):
        kube.get("ConfigMap", "app", "shop")
    assert kube.requests == FAST.attempts
