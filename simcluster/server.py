"""The simulated API server over HTTP: a threaded HTTP/1.1 server with keep-alive and chunked watches.

`ApiServer(store, cluster=None)` serves the Kubernetes REST API for `store` (and, given a
cluster, eviction through its PDB logic, the Alertmanager feed and the simulation controls).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simcluster.http.api import ClusterBackend, KubeApi
from simcluster.http.messages import Request, Response
from simcluster.store import ObjectStore

__all__ = ["ApiServer", "ClusterBackend"]


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
        response = self.api.handle(self._request())
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
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
