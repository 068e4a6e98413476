"""Where a webhook alert's time goes, in one process: the parse paths against the floor, and what
handing parsed batches to another thread costs (the HTTP storm's agent does exactly that).

On the HTTP storm's bodies (100 alerts each, Alertmanager's shape), CPU time per alert (the
calling thread's `time.thread_time`):

- floor: `TypeAdapter(WebhookPayload).validate_json` alone;
- plain path: `parse_clean_webhook` on a body `plain_json_text` vouches for (msgspec, then `Alert`);
- pattern path: the same body through pydantic's `CleanWebhookPayload` (the patterns) and `Alert`;
- one thread: parse then fold into incidents (`Intake.ingest_batch`), batch after batch;
- two threads: parse on one, fold on another through a queue of one batch, as the edge and the
  decision worker do.

    python -m bench.webhook_parts [--posts N]
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import TypeAdapter

from agent.intake.alerts import _CLEAN_WEBHOOK, ParsedBatch, WebhookPayload, _from_clean_webhook, parse_clean_webhook
from agent.intake.incidents import Intake
from bench.http_storm import PER_POST, bodies


def _per_alert(payloads: list[bytes], run: Callable[[bytes], object]) -> float:
    """Best of three passes, µs of CPU per alert."""
    best = float("inf")
    for _ in range(3):
        began = time.thread_time()
        for body in payloads:
            run(body)
        best = min(best, time.thread_time() - began)
    return best / (len(payloads) * PER_POST) * 1e6


def _pattern_path(body: bytes) -> ParsedBatch:
    alerts = _CLEAN_WEBHOOK.validate_json(body).alerts
    return ParsedBatch(alerts=[_from_clean_webhook(wire, wire.starts_at, wire.ends_at) for wire in alerts])


def _parse(body: bytes) -> ParsedBatch:
    batch = parse_clean_webhook(body)
    assert batch is not None
    return batch


def _one_thread(payloads: list[bytes]) -> tuple[float, float]:
    intake, now, parse, fold = Intake(), datetime.now(UTC), 0.0, 0.0
    for body in payloads:
        began = time.thread_time()
        batch = _parse(body)
        parsed = time.thread_time()
        intake.ingest_batch(batch, now=now)
        parse, fold = parse + parsed - began, fold + time.thread_time() - parsed
    alerts = len(payloads) * PER_POST
    return parse / alerts * 1e6, fold / alerts * 1e6


def _two_threads(payloads: list[bytes]) -> tuple[float, float]:
    intake, now = Intake(), datetime.now(UTC)
    handed: queue.Queue[ParsedBatch | None] = queue.Queue(maxsize=1)
    fold = [0.0]

    def consume() -> None:
        while (batch := handed.get()) is not None:
            began = time.thread_time()
            intake.ingest_batch(batch, now=now)
            fold[0] += time.thread_time() - began

    consumer = threading.Thread(target=consume)
    consumer.start()
    parse = 0.0
    for body in payloads:
        began = time.thread_time()
        batch = _parse(body)
        parse += time.thread_time() - began
        handed.put(batch)
    handed.put(None)
    consumer.join()
    alerts = len(payloads) * PER_POST
    return parse / alerts * 1e6, fold[0] / alerts * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the per-alert figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=3000)
    args = parser.parse_args(argv)
    payloads, _ = bodies(args.posts, [(f"team-{i % 20}", f"svc-{i:03d}") for i in range(200)])
    floor = TypeAdapter(WebhookPayload)
    print(f"floor (validate_json alone)      {_per_alert(payloads, floor.validate_json):5.2f} µs/alert")
    print(f"plain path (msgspec + Alert)      {_per_alert(payloads, _parse):5.2f} µs/alert")
    print(f"pattern path (pydantic + Alert)   {_per_alert(payloads, _pattern_path):5.2f} µs/alert")
    print("parse / fold, one thread         {:5.2f} / {:5.2f} µs/alert".format(*_one_thread(payloads)))
    print("parse / fold, two threads        {:5.2f} / {:5.2f} µs/alert".format(*_two_threads(payloads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
