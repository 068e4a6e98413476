"""A local stand-in for the Mattermost REST API's posts endpoints (create, patch), recording calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class MattermostStub:
    url: str = ""
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0

    def post(self, index: int = 0) -> dict[str, Any]:
        return list(self.posts.values())[index]


def _handler(stub: MattermostStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict[str, Any]:
            data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            assert isinstance(data, dict)
            return data

        def do_POST(self) -> None:
            body = self._body()
            stub.calls.append(("POST", self.path, body))
            if stub.fail_next:
                stub.fail_next -= 1
                self._answer(500, {"message": "boom"})
                return
            if self.path != "/api/v4/posts" or self.headers.get("Authorization") != "Bearer bot-token":
                self._answer(401, {"message": "unauthorized"})
                return
            post_id = f"{len(stub.posts) + 1:026d}"
            stub.posts[post_id] = {"id": post_id, **body}
            self._answer(201, stub.posts[post_id])

        def do_PUT(self) -> None:
            body = self._body()
            stub.calls.append(("PUT", self.path, body))
            post_id = self.path.removeprefix("/api/v4/posts/").removesuffix("/patch")
            if post_id not in stub.posts:
                self._answer(404, {"message": "not found"})
                return
            stub.posts[post_id].update(body)
            self._answer(200, stub.posts[post_id])

    return Handler


@contextmanager
def mattermost_stub() -> Iterator[MattermostStub]:
    stub = MattermostStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
