"""A local OpenAI-compatible chat-completions server on 127.0.0.1 that answers from a script,
and the small estate and incident the LLM planner tests share.

Each test queues what the "model" does next: a completion body, an HTTP status, raw bytes, or
a stall. Requests are recorded (decoded JSON) so tests can check what the planner sent.
A stall waits on an event the server sets on shutdown, so teardown never waits for it.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.intake import Alert, AlertSource, Incident, Intake
from tests.agent.fixtures.cluster import FakeCluster, deployment, pod, replicaset


@dataclass(frozen=True)
class Reply:
    """Answer with this status and body (a dict is sent as JSON)."""

    body: dict[str, Any] | str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stall:
    """Hold the request this long (or until the server stops) before answering `then`."""

    seconds: float
    then: Reply | None = None


Step = Reply | Stall


def completion(message: dict[str, Any], *, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A chat completion with one choice carrying `message`."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "tool_calls"}],
        "usage": usage or {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    }


def tool_call(name: str, arguments: dict[str, Any] | str, *, call_id: str = "call_1") -> dict[str, Any]:
    """One tool-call entry (arguments as the JSON string the API sends)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def calls(*entries: dict[str, Any]) -> Reply:
    """A completion whose message makes these tool calls."""
    return Reply(completion({"content": None, "tool_calls": list(entries)}))


def call(name: str, arguments: dict[str, Any] | str) -> Reply:
    """A completion making exactly one tool call."""
    return calls(tool_call(name, arguments))


def text(content: str) -> Reply:
    """A completion that answers in prose."""
    return Reply(completion({"content": content}))


def status(code: int, *, retry_after: float | None = None) -> Reply:
    """An HTTP error in the API's error shape."""
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return Reply({"error": {"message": f"fake {code}", "type": "server_error", "code": None}}, code, headers)


class FakeLlm:
    """The server's state: the script, the recorded requests, the stop event."""

    def __init__(self) -> None:
        self.script: deque[Step] = deque()
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.url = ""

    def push(self, *steps: Step) -> None:
        """Queue the next answers, in order."""
        self.script.extend(steps)

    def next_step(self) -> Step:
        if not self.script:
            return status(599)
        return self.script.popleft()


def _handler(state: FakeLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(Reply({"error": {"message": "not found"}}, 404))
                return
            state.requests.append(json.loads(body or b"{}"))
            step = state.next_step()
            if isinstance(step, Stall):
                state.stopping.wait(step.seconds)
                if step.then is None or state.stopping.is_set():
                    return
                step = step.then
            self._send(step)

        def _send(self, reply: Reply) -> None:
            payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            data = payload.encode()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


@contextmanager
def serve() -> Iterator[FakeLlm]:
    """Run a fake endpoint on a free loopback port; `state.url` is its base URL (…/v1)."""
    state = FakeLlm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- a small estate and incident the LLM planner tests share ------------------------------

NOW = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
"""The tests' fixed "now"; the incident began ten minutes before."""


def estate() -> FakeCluster:
    """Deployments prod/web (3 wanted, 0 ready) and prod/api, a pod of web on node-1, two nodes."""
    web = deployment("web", replicas=3)
    web["status"] = {"replicas": 3, "readyReplicas": 0, "updatedReplicas": 3, "observedGeneration": 2}
    web["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]
    rs = replicaset(web, "6d4f8", revision=2, created=NOW - timedelta(days=1))
    web_pod = pod("web-6d4f8-abcde", rs)
    web_pod["spec"]["nodeName"] = "node-1"
    nodes = [{"kind": "Node", "metadata": {"name": n, "uid": n}, "spec": {}} for n in ("node-1", "node-2")]
    return FakeCluster(web, rs, web_pod, deployment("api", replicas=2), *nodes)


def incident(
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    name: str = "KubePodCrashLooping",
) -> Incident:
    """One open incident from one alert about Deployment prod/web (labels and annotations added)."""
    alert = Alert(
        fingerprint="fp-web-1",
        name=name,
        labels={"alertname": name, "namespace": "prod", "deployment": "web", "severity": "critical", **(labels or {})},
        annotations={"summary": "web is crash looping", **(annotations or {})},
        starts_at=NOW - timedelta(minutes=10),
        ends_at=None,
        firing=True,
        suppressed=False,
        source=AlertSource.WEBHOOK,
    )
    result = Intake().ingest([alert], now=NOW)
    assert result.new, "the alert should open an incident"
    return result.new[0]
