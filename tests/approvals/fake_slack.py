"""A local stand-in for Slack's Web API on 127.0.0.1, reached through `WebClient(base_url=...)`.

It records every call and can be told to answer the next calls of a method with a 5xx or a
rate-limit answer (HTTP 429 or `{"ok": false, "error": "ratelimited"}`) with Retry-After.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Records calls; answers like Slack unless a failure is scripted for the method."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.groups: dict[str, list[str]] = {}
        self._scripted: dict[str, deque[Scripted]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(self, method: str, *, times: int, status: int = 503) -> None:
        """The next `times` calls of `method` answer HTTP `status`."""
        self._script(method, times, Scripted(status, {"ok": False, "error": "fatal_error"}))

    def ratelimit_next(self, method: str, *, times: int, retry_after: int = 0, http_429: bool = True) -> None:
        """The next `times` calls of `method` are rate limited, with Retry-After."""
        status = 429 if http_429 else 200
        self._script(
            method, times, Scripted(status, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        )

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def _script(self, method: str, times: int, answer: Scripted) -> None:
        with self._lock:
            self._scripted.setdefault(method, deque()).extend([answer] * times)

    def _answer(self, method: str, args: dict[str, Any]) -> Scripted:
        with self._lock:
            self.calls.append(Call(method, args))
            queue = self._scripted.get(method)
            if queue:
                return queue.popleft()
        return Scripted(200, self._success(method, args))

    def _success(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": f"{next(self._ts)}.000100"}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{next(self._ts)}.000200"}
        if method == "usergroups.users.list":
            group = str(args.get("usergroup"))
            if group not in self.groups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.groups[group]}
        return {"ok": True}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if (self.headers.get("Content-Type") or "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                method = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
                answer = fake._answer(method, args)
                body = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
