"""The audit chain: hashing, tamper detection (hypothesis), storage on both databases."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.audit import (
    AuditEntry,
    AuditKind,
    AuditLog,
    Problem,
    canonical_json,
    link_of,
    record_hash,
    verify_records,
)
from agent.store import AuditHead, AuditLink, AuditRecord, Store
from tests.agent.conftest import FakeClock

KEY = b"audit-test-key"


class ListStorage:
    """Audit storage in a list: the chain logic without a database."""

    def __init__(self) -> None:
        self.rows: list[AuditRecord] = []

    def append(self, build: Callable[[AuditHead], AuditRecord]) -> AuditRecord:
        record = build(self.head())
        self.rows.append(record)
        return record

    def append_many(self, builds: Sequence[Callable[[AuditHead], AuditRecord]]) -> list[AuditRecord]:
        return [self.append(build) for build in builds]

    def head(self) -> AuditHead:
        return AuditHead(seq=self.rows[-1].seq, hash=self.rows[-1].hash) if self.rows else AuditHead(0, "")

    def records(self) -> Iterable[AuditRecord]:
        return list(self.rows)

    def links(self) -> Iterable[AuditLink]:
        return [link_of(record) for record in self.rows]


def _chain(length: int, key: bytes | None) -> tuple[list[AuditRecord], AuditHead]:
    clock = FakeClock()
    storage = ListStorage()
    log = AuditLog(storage, key=key, clock=clock)
    kinds = list(AuditKind)
    for n in range(length):
        clock.advance(1.5)
        log.append(
            kinds[n % len(kinds)], actor=f"replica-{n % 2}", incident_id=f"inc-{n // 3}", payload={"n": n, "x": [n]}
        )
    return storage.rows, storage.head()


keys = st.sampled_from([None, KEY])


def test_canonical_json_sorts_keys_without_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": "é", "c": [1, 2]}}) == '{"a":{"c":[1,2],"d":"é"},"b":1}'.encode()


def _reference_hash(record: AuditRecord, key: bytes | None) -> str:
    """The hash as the chain was first defined: `json.dumps` of the whole record as a dict."""
    body = json.dumps(
        {
            "seq": record.seq,
            "ts": record.ts.astimezone(UTC).isoformat(timespec="microseconds"),
            "kind": record.kind,
            "actor": record.actor,
            "incident_id": record.incident_id,
            "payload": record.payload,
            "prev_hash": record.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest() if key else hashlib.sha256(body).hexdigest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
records = st.builds(
    AuditRecord,
    seq=st.integers(min_value=1, max_value=2**62),
    ts=st.datetimes(timezones=st.timezones()),
    kind=st.text(),
    actor=st.text(),
    incident_id=st.none() | st.text(),
    payload=st.dictionaries(st.text(), json_values, max_size=6),
    prev_hash=st.text(),
    hash=st.just(""),
)


@settings(max_examples=300)
@given(record=records, key=keys)
def test_record_hash_is_byte_identical_to_the_original_definition(record: AuditRecord, key: bytes | None) -> None:
    """The field-by-field encoder may not change a single byte: every existing chain still verifies."""
    assert record_hash(record, key) == _reference_hash(record, key)
    assert record_hash(link_of(record), key) == _reference_hash(record, key)


def test_intact_chain_verifies_keyed_and_unkeyed() -> None:
    for key in (None, KEY):
        records, head = _chain(5, key)
        report = verify_records(records, key=key, head=head)
        assert report.ok, report.describe()
        assert report.count == 5
        assert records[1].prev_hash == records[0].hash


def test_keyed_chain_checked_with_another_key_reports_bad_key() -> None:
    records, head = _chain(4, KEY)
    report = verify_records(records, key=b"not-the-key", head=head)
    assert not report.ok
    assert report.problem is Problem.BAD_KEY


def test_keyed_hash_differs_from_plain_hash() -> None:
    records, _ = _chain(1, None)
    assert record_hash(records[0], KEY) != record_hash(records[0], None)


EDITS: dict[str, Callable[[AuditRecord], AuditRecord]] = {
    "payload": lambda r: dataclasses.replace(r, payload={**r.payload, "n": -1}),
    "kind": lambda r: dataclasses.replace(r, kind="tampered"),
    "actor": lambda r: dataclasses.replace(r, actor="attacker"),
    "incident": lambda r: dataclasses.replace(r, incident_id="other"),
    "ts": lambda r: dataclasses.replace(r, ts=r.ts + timedelta(microseconds=1)),
    "hash": lambda r: dataclasses.replace(r, hash="0" * 64),
    "prev_hash": lambda r: dataclasses.replace(r, prev_hash="f" * 64),
    "seq": lambda r: dataclasses.replace(r, seq=r.seq + 100),
}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(1, 12), data=st.data(), key=keys, field=st.sampled_from(sorted(EDITS)))
def test_any_single_edit_is_caught(length: int, data: st.DataObject, key: bytes | None, field: str) -> None:
    records, head = _chain(length, key)
    index = data.draw(st.integers(0, length - 1))
    records[index] = EDITS[field](records[index])

    report = verify_records(records, key=key, head=head)

    assert not report.ok
    assert report.first_bad_index is not None
    assert report.first_bad_index <= index


@settings(max_examples=150)
@given(length=st.integers(1, 12), data=st.data(), key=keys)
def test_any_single_deletion_is_caught(length: int, data: st.DataObject, key: bytes | None) -> None:
    records, head = _chain(length, key)
    index = data.draw(st.integers(0, length - 1))
    del records[index]

    report = verify_records(records, key=key, head=head)

    assert not report.ok
    assert report.problem is Problem.DELETED
    assert report.first_bad_index == index


@settings(max_examples=150)
@given(length=st.integers(1, 12), data=st.data(), key=keys, forged=st.booleans())
def test_any_single_insertion_is_caught(length: int, data: st.DataObject, key: bytes | None, forged: bool) -> None:
    records, head = _chain(length, key)
    index = data.draw(st.integers(0, length))
    if forged and index > 0:
        # The strongest single insertion: right seq and link, hash recomputed without the key.
        prev = records[index - 1]
        fake = dataclasses.replace(prev, seq=prev.seq + 1, prev_hash=prev.hash, payload={"forged": True})
        fake = dataclasses.replace(fake, hash=record_hash(fake, None))
    else:
        source = records[data.draw(st.integers(0, length - 1))]
        fake = dataclasses.replace(source, payload={"copied": True})
    records.insert(index, fake)

    report = verify_records(records, key=key, head=head)

    assert not report.ok
    assert report.first_bad_index is not None
    assert report.first_bad_index in (index, index + 1)


@settings(max_examples=150)
@given(length=st.integers(2, 12), data=st.data(), key=keys)
def test_any_swap_of_two_records_is_caught(length: int, data: st.DataObject, key: bytes | None) -> None:
    records, head = _chain(length, key)
    first = data.draw(st.integers(0, length - 2))
    second = data.draw(st.integers(first + 1, length - 1))
    records[first], records[second] = records[second], records[first]

    report = verify_records(records, key=key, head=head)

    assert not report.ok
    assert report.problem is Problem.REORDERED
    assert report.first_bad_index == first


def test_chain_round_trips_through_the_store(store: Store, clock: FakeClock) -> None:
    log = AuditLog(store.audit, key=KEY, clock=clock)
    log.append(AuditKind.ALERT, actor="intake", payload={"labels": {"alertname": "X"}, "value": 0.1, "ok": True})
    clock.advance(0.000123)
    log.append(AuditKind.DECISION, actor="policy", incident_id="inc-1", payload={"verdict": "approve", "n": None})

    report = log.verify()
    assert report.ok, report.describe()
    assert report.count == 2
    assert store.audit.head().seq == 2


def test_export_writes_one_json_line_per_record(store: Store, clock: FakeClock) -> None:
    log = AuditLog(store.audit, clock=clock)
    for n in range(3):
        log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n})
    out = io.StringIO()

    assert log.export(out) == 3

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[2]["prev_hash"] == lines[1]["hash"]
    assert lines[0]["ts"] == "2026-01-05T09:00:00.000000+00:00"


def test_edit_in_sqlite_file_is_caught(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "scutum.db"
    store = Store.connect(f"sqlite:///{path}", clock=clock)
    store.upgrade()
    log = AuditLog(store.audit, clock=clock)
    for n in range(4):
        log.append(AuditKind.API_CALL, actor="executor", payload={"n": n})
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE audit_records SET payload = ? WHERE seq = 3", ('{"n": 99}',))

    report = log.verify()
    store.close()

    assert not report.ok
    assert (report.first_bad_seq, report.problem) == (3, Problem.EDITED)
    assert "seq 3" in report.describe()


def test_truncated_tail_is_caught_by_the_head(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "scutum.db"
    store = Store.connect(f"sqlite:///{path}", clock=clock)
    store.upgrade()
    log = AuditLog(store.audit, clock=clock)
    for n in range(3):
        log.append(AuditKind.API_CALL, actor="executor", payload={"n": n})
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM audit_records WHERE seq = 3")

    report = log.verify()
    store.close()

    assert (report.ok, report.problem, report.first_bad_seq) == (False, Problem.DELETED, 3)


@pytest.mark.parametrize("threads", [8])
def test_concurrent_threads_on_sqlite_keep_one_chain(tmp_path: Path, threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = Store.connect(f"sqlite:///{tmp_path / 'scutum.db'}")
    store.upgrade()
    log = AuditLog(store.audit, key=KEY)

    def write(worker: int) -> None:
        for n in range(10):
            log.append(AuditKind.FACTS, actor=f"w{worker}", payload={"n": n})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(threads)))
    report = log.verify()
    store.close()

    assert report.ok, report.describe()
    assert report.count == threads * 10


def test_payload_values_without_json_form_are_stored_as_strings(clock: FakeClock) -> None:
    storage = ListStorage()
    log = AuditLog(storage, clock=clock)

    record = log.append(AuditKind.FACTS, actor="probe", payload={"observed_at": clock.now, "kind": AuditKind.FACTS})

    assert record.payload == {"observed_at": "2026-01-05 09:00:00+00:00", "kind": "facts"}
    assert log.verify().ok


def test_a_batch_of_records_extends_the_chain_in_order(store: Store, clock: FakeClock) -> None:
    log = AuditLog(store.audit, key=KEY, clock=clock)
    log.append(AuditKind.ALERT, actor="scutum", payload={"n": 0})
    batch = [AuditEntry(AuditKind.PLAN, "scutum", {"n": n}, "inc-1") for n in range(1, 5)]
    written = log.append_many(batch)
    assert [r.seq for r in written] == [2, 3, 4, 5]
    assert [r.payload["n"] for r in store.audit.records()] == [0, 1, 2, 3, 4]
    assert log.verify().ok
    assert log.append_many([]) == []
