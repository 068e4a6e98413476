"""The tamper-evident audit chain.

Each record holds the previous record's hash; the hash covers the record's canonical JSON
(sorted keys, no whitespace, UTF-8) of seq, timestamp, kind, actor, incident id, payload and
previous hash. With a key the hash is an HMAC-SHA256, so only key holders can forge a chain.
Verification finds the first edited, deleted, inserted or reordered record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any, Protocol, TextIO

from agent.store.records import AuditHead, AuditLink, AuditRecord

__all__ = [
    "AuditEntry",
    "AuditKind",
    "AuditLink",
    "AuditLog",
    "AuditRecord",
    "VerifyReport",
    "canonical_json",
    "link_of",
    "record_hash",
    "verify_records",
]


class AuditKind(StrEnum):
    """What an audit record is about."""

    ALERT = "alert"
    INCIDENT = "incident"
    PLAN = "plan"
    LLM_EXCHANGE = "llm_exchange"
    FACTS = "facts"
    RISK = "risk"
    DECISION = "decision"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_VOTE = "approval_vote"
    APPROVAL_EXPIRED = "approval_expired"
    SLACK_REQUEST_REJECTED = "slack_request_rejected"
    CHANNEL_REQUEST_REJECTED = "channel_request_rejected"
    DRY_RUN = "dry_run"
    API_CALL = "api_call"
    EXECUTION = "execution"
    VERIFICATION = "verification"
    UNDO_OFFERED = "undo_offered"
    ESCALATION = "escalation"
    PAGE = "page"
    CONTROL = "control"
    CHECKPOINT_KEY = "checkpoint_key"
    """A checkpoint signing key was put in use (agent.checkpoints), endorsed by the one before."""
    ERROR = "error"


class Problem(StrEnum):
    """Why verification stopped at a record."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_KEY = "bad key"


@dataclass(frozen=True)
class VerifyReport:
    """The result of checking a chain: ok, how many records were read, and the first fault."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    first_bad_index: int | None = None
    problem: Problem | None = None
    detail: str = ""

    def describe(self) -> str:
        """One line for a person."""
        if self.ok:
            return f"audit chain intact: {self.count} record{'' if self.count == 1 else 's'}"
        return f"audit chain broken at record seq {self.first_bad_seq}: {self.problem}: {self.detail}"


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
"""One encoder with exactly `json.dumps`'s canonical arguments, built once (dumps builds one a call)."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes the hash covers."""
    return _CANONICAL.encode(value).encode()


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _string(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def record_hash(record: AuditRecord | AuditLink, key: bytes | None) -> str:
    """The hash a record should carry: SHA-256, or HMAC-SHA256 when a key is given.

    The body is `canonical_json` of {seq, ts, kind, actor, incident_id, payload, prev_hash},
    written out field by field in sorted key order (the same bytes, proved by a property test
    against the dict form), so verifying a long chain pays for the payload's encoding only.
    """
    ts = record.ts if isinstance(record, AuditLink) else _ts(record.ts)
    body = (
        f'{{"actor":{_string(record.actor)},"incident_id":{_string(record.incident_id)},'
        f'"kind":{_string(record.kind)},"payload":{_CANONICAL.encode(record.payload)},'
        f'"prev_hash":{_string(record.prev_hash)},"seq":{int.__repr__(record.seq)},'
        f'"ts":{encode_basestring(ts)}}}'
    ).encode()
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One record to append: what it is about, who did it, the details."""

    kind: AuditKind
    actor: str
    payload: dict[str, Any]
    incident_id: str | None = None


class AuditStorage(Protocol):
    """Where records live (agent.store's AuditRepository, or a list in tests)."""

    def append(self, build: Callable[[AuditHead], AuditRecord]) -> AuditRecord:
        """Append the record `build` makes from the head, with appends serialized."""
        ...

    def append_many(self, builds: Sequence[Callable[[AuditHead], AuditRecord]]) -> list[AuditRecord]:
        """Append several records in order, in one serialized write."""
        ...

    def head(self) -> AuditHead:
        """The last seq and hash."""
        ...

    def records(self) -> Iterable[AuditRecord]:
        """Every record in seq order."""
        ...

    def links(self) -> Iterable[AuditLink]:
        """Every record in seq order in the form verification reads (see `link_of`)."""
        ...


class AuditLog:
    """Writes, verifies and exports the chain."""

    def __init__(
        self, storage: AuditStorage, *, key: bytes | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._storage = storage
        self._key = key
        self._clock = clock or (lambda: datetime.now(UTC))

    def append(
        self, kind: AuditKind, *, actor: str, payload: dict[str, Any], incident_id: str | None = None
    ) -> AuditRecord:
        """Add one record at the end of the chain and return it."""
        return self._storage.append(self._builder(AuditEntry(kind, actor, payload, incident_id)))

    def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Add several records, in order, in one write (one decision's plan, facts, risk, verdict)."""
        if not entries:
            return []
        return self._storage.append_many([self._builder(entry) for entry in entries])

    def _builder(self, entry: AuditEntry) -> Callable[[AuditHead], AuditRecord]:
        # Exactly what the database will give back: datetimes, enums and the like become strings.
        normal = json.loads(json.dumps(entry.payload, default=str, allow_nan=False))
        ts = datetime.fromisoformat(_ts(self._clock()))

        def build(head: AuditHead) -> AuditRecord:
            draft = AuditRecord(
                seq=head.seq + 1,
                ts=ts,
                kind=str(entry.kind),
                actor=entry.actor,
                incident_id=entry.incident_id,
                payload=normal,
                prev_hash=head.hash,
                hash="",
            )
            return AuditRecord(**{**draft.__dict__, "hash": record_hash(draft, self._key)})

        return build

    def verify(self) -> VerifyReport:
        """Check every stored record and the head."""
        return verify_records(self._storage.links(), key=self._key, head=self._storage.head())

    def export(self, stream: TextIO) -> int:
        """Write every record as one JSON line; returns how many."""
        count = 0
        for record in self._storage.records():
            stream.write(export_line(record) + "\n")
            count += 1
        return count


def link_of(record: AuditRecord) -> AuditLink:
    """A record in the form verification reads: its time already in the hashed form."""
    return AuditLink(
        record.seq,
        _ts(record.ts),
        record.kind,
        record.actor,
        record.incident_id,
        record.payload,
        record.prev_hash,
        record.hash,
    )


def export_line(record: AuditRecord) -> str:
    """One record as a JSON Lines line (canonical JSON)."""
    data = {**record.__dict__, "ts": _ts(record.ts)}
    return canonical_json(data).decode()


def read_export(lines: Iterable[str]) -> list[AuditRecord]:
    """Records from `scutum audit export` output (JSON Lines), for verifying a copy offline.

    Raises ValueError naming the line when one is not a record.
    """
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            data["ts"] = datetime.fromisoformat(data["ts"])
            records.append(AuditRecord(**data))
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"line {number} is not an audit record: {exc}") from None
    return records


def verify_records(
    records: Iterable[AuditRecord | AuditLink], *, key: bytes | None = None, head: AuditHead | None = None
) -> VerifyReport:
    """Check a chain given in storage order; the first fault found is reported.

    `head`, when given, is the separately kept last seq and hash: it reveals records removed
    from the end, which the chain alone cannot. Streams: one pass, memory independent of the
    chain's length (after a fault, the rest is read once to classify it and count it).
    """
    stream = iter(records)
    count = 0
    prev_hash = ""
    for index, record in enumerate(stream):
        count += 1
        fault = _check(record, index, prev_hash=prev_hash, key=key)
        if fault is not None:
            return _fault_report(record, index, fault, stream, key=key)
        prev_hash = record.hash
    if head is not None and (head.seq, head.hash) != (count, prev_hash):
        if head.seq > count:
            detail = f"the head says {head.seq} records, {count} remain"
            return VerifyReport(False, count, count + 1, count, Problem.DELETED, detail)
        detail = "the last record does not match the recorded head"
        return VerifyReport(False, count, head.seq, count - 1, Problem.EDITED, detail)
    return VerifyReport(True, count)


def _check(
    record: AuditRecord | AuditLink, index: int, *, prev_hash: str, key: bytes | None
) -> tuple[Problem, str] | None:
    """The fault of the record at `index`, given that every record before it was sound (so
    their seqs were exactly 1..index). A gap is reported as a deletion until the rest of the
    chain shows the missing seq later (then it is a reordering: see `_fault_report`)."""
    expected = index + 1
    if record.seq != expected:
        if 1 <= record.seq < expected:
            return Problem.INSERTED, f"seq {record.seq} appears twice"
        if record.seq < expected:
            return Problem.REORDERED, f"expected seq {expected}, found {record.seq}"
        return Problem.DELETED, f"records {expected}..{record.seq - 1} are missing"
    if record_hash(record, key) != record.hash:
        return Problem.EDITED, "the record's content does not match its hash"
    if record.prev_hash != prev_hash:
        return Problem.INSERTED, "the record does not link to the one before it"
    return None


def _fault_report(
    record: AuditRecord | AuditLink,
    index: int,
    fault: tuple[Problem, str],
    rest: Iterator[AuditRecord | AuditLink],
    *,
    key: bytes | None,
) -> VerifyReport:
    """The report for the first fault, after one pass over the rest of the chain: it counts the
    records, tells a reordering from a deletion, and (for a fault on the first record under a
    key) tells a wrong key from an edit."""
    problem, detail = fault
    expected = index + 1
    check_key = key is not None and index == 0
    verifies = check_key and record_hash(record, key) == record.hash
    expected_later = False
    total = index + 1
    for later in rest:
        total += 1
        expected_later = expected_later or later.seq == expected
        if check_key and not verifies:
            verifies = record_hash(later, key) == later.hash
    if check_key and not verifies:
        return VerifyReport(False, total, record.seq, 0, Problem.BAD_KEY, "no record verifies with this key")
    if problem is Problem.DELETED and expected_later:
        problem, detail = Problem.REORDERED, f"expected seq {expected}, found {record.seq}"
    return VerifyReport(False, total, record.seq, index, problem, detail)
