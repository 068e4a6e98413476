"""Local stand-ins for PagerDuty's Events API v2 and Opsgenie's Alert API.

Each request is checked against the shape the vendors document (JSON Schemas below, written
from their API references) and recorded; tests script the status codes the stub answers.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

PAGERDUTY_EVENT = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "links": {"type": "array"},
        "images": {"type": "array"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"required": ["dedup_key"]},
}

OPSGENIE_CREATE = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "minLength": 1, "maxLength": 130},
        "alias": {"type": "string", "maxLength": 512},
        "description": {"type": "string", "maxLength": 15000},
        "responders": {"type": "array"},
        "visibleTo": {"type": "array"},
        "actions": {"type": "array", "maxItems": 10},
        "tags": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 50}},
        "details": {"type": "object", "additionalProperties": {"type": "string"}},
        "entity": {"type": "string", "maxLength": 512},
        "source": {"type": "string", "maxLength": 100},
        "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
        "user": {"type": "string", "maxLength": 100},
        "note": {"type": "string", "maxLength": 25000},
    },
    "additionalProperties": False,
}

OPSGENIE_CLOSE = {
    "type": "object",
    "properties": {
        "user": {"type": "string", "maxLength": 100},
        "source": {"type": "string", "maxLength": 100},
        "note": {"type": "string", "maxLength": 25000},
    },
    "additionalProperties": False,
}


@dataclass
class Received:
    """One request the stub accepted (its schema already checked)."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class PagerStub:
    """Both vendors' endpoints on one local server."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    """Requests that broke the documented shape (a test expects none)."""
    script: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    """Statuses (and headers) to answer next, before the default 202."""

    def answer(self, *replies: int | tuple[int, dict[str, str]]) -> None:
        for reply in replies:
            self.script.append(reply if isinstance(reply, tuple) else (reply, {}))

    def bodies(self, path_prefix: str) -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.path.startswith(path_prefix)]


def _handler(stub: PagerStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers = stub.script.popleft() if stub.script else (202, {})
            try:
                body = json.loads(raw)
                self._check(parts.path, body)
            except (ValueError, jsonschema.ValidationError) as exc:
                stub.invalid.append(f"{parts.path}: {exc}")
                status, headers = 400, {}
            else:
                if status == 202:
                    stub.received.append(Received(parts.path, parse_qs(parts.query), dict(self.headers), body))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status":"success","message":"Event processed"}')

        def _check(self, path: str, body: Any) -> None:
            if path == "/v2/enqueue":
                jsonschema.validate(body, PAGERDUTY_EVENT)
            elif path == "/v2/alerts":
                if not self.headers.get("Authorization", "").startswith("GenieKey "):
                    raise ValueError("missing GenieKey authorization")
                jsonschema.validate(body, OPSGENIE_CREATE)
            elif path.startswith("/v2/alerts/") and path.endswith("/close"):
                if parse_qs(urlsplit(self.path).query).get("identifierType") != ["alias"]:
                    raise ValueError("close must name identifierType=alias")
                jsonschema.validate(body, OPSGENIE_CLOSE)
            else:
                raise ValueError(f"unknown path {path}")

    return Handler


@contextmanager
def pager_stub() -> Iterator[PagerStub]:
    """A running stub on a free loopback port."""
    stub = PagerStub()
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
