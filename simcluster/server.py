"""The simulated API server over HTTP: a threaded HTTP/1.1 server with keep-alive and chunked watches.

`ApiServer(store, cluster=None)` serves the Kubernetes REST API for `store` (and, given a
cluster, eviction through its PDB logic, the Alertmanager feed and the simulation controls).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simcluster.apifaults import FaultRule
from simcluster.errors import StoreError
from simcluster.http.api import ClusterBackend, KubeApi
from simcluster.http.messages import Request, Response
from simcluster.store import ObjectStore

__all__ = ["ApiServer", "ClusterBackend"]


class ApiFault(StoreError):
    """The error answered by a `status` fault rule."""

    reason = "SimulatedFault"

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code
        self.reason = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}.get(code, "InternalError")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls
    server_version = "simcluster"
    api: KubeApi  # set on the subclass built per server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test run would otherwise print every request."""

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw_query=parts.query,
        )

    def _serve(self) -> None:
        request = self._request()
        info = self.api.describe(request)
        rule = self.api.faults.pick(info) if info is not None else None
        if rule is None or rule.kind == "latency":
            if rule is not None:
                time.sleep(rule.seconds or 0.0)
            response = self.api.handle(request)
            if info is not None:  # logged before the answer: a client that got it finds it logged
                self.api.faults.record(info, status=response.status, rule=rule, applied=True)
            self._answer(response)
            return
        assert info is not None
        if rule.apply:
            self.api.handle(request)
        status = rule.status if rule.kind == "status" else None  # no answer comes for reset or hang
        self.api.faults.record(info, status=status, rule=rule, applied=rule.apply)
        self._fail(rule)

    def _fail(self, rule: FaultRule) -> int | None:
        """Carry out a fault instead of the answer; the status sent, or None when none was."""
        if rule.kind == "status":
            headers = {"Retry-After": f"{rule.retry_after_seconds:g}"} if rule.retry_after_seconds is not None else {}
            error = ApiFault(f"simulated fault: HTTP {rule.status}", code=rule.status)
            self._answer(Response(rule.status, Response.error(error).body, headers=headers))
            return rule.status
        if rule.kind == "hang":
            stopping = self.api.stopping
            deadline = time.monotonic() + rule.seconds if rule.seconds is not None else None
            while not (rule.released.is_set() or stopping.is_set()):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                rule.released.wait(0.05)
        # reset, or the end of a hang: drop the connection with a TCP reset and no answer
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return None

    def _answer(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self._stream(response)

    def _stream(self, response: Response) -> None:
        assert response.stream is not None
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in response.stream:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815 - the base class's names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ApiServer:
    """The HTTP server; `start()` runs it in a background thread, `stop()` ends it and its watches."""

    def __init__(
        self, store: ObjectStore, cluster: ClusterBackend | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.api = KubeApi(store, cluster)
        handler = type("BoundHandler", (_Handler,), {"api": self.api})
        self._httpd = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host = self._httpd.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    def start(self) -> ApiServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="simcluster-api", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until `stop()` is called from another."""
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop accepting requests, end open watches and close the socket."""
        self.api.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
