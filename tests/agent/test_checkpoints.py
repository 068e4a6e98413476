"""Signed checkpoints reveal what an insider does to the chain behind the agent's back:
truncation with the head rewound to match, and a rewritten (forked) history, on both databases."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from agent.audit import AuditKind, AuditLog
from agent.checkpoints import (
    Checkpoint,
    CheckpointKeyError,
    CheckpointSigner,
    KeyRing,
    Problem,
    new_private_key_text,
    read_checkpoint_lines,
    verify_checkpoints,
)
from agent.store import AuditHead, Store
from agent.store.records import AuditRecord
from agent.witnesses import Checkpointer, record_key
from tests.agent.conftest import FakeClock
from tests.agent.insider import truncate_and_rewind

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class ListWitness:
    """A witness that keeps what it is given."""

    name = "list"

    def __init__(self) -> None:
        self.published: list[Checkpoint] = []

    def publish(self, checkpoint: Checkpoint) -> None:
        self.published.append(checkpoint)


class BrokenWitness:
    name = "broken"

    def publish(self, checkpoint: Checkpoint) -> None:
        raise OSError("witness unreachable")


def _signer() -> CheckpointSigner:
    return CheckpointSigner.from_text(new_private_key_text())


def _append(log: AuditLog, count: int, *, tag: str = "original") -> None:
    for n in range(count):
        log.append(AuditKind.EXECUTION, actor="executor", payload={"n": n, "tag": tag})


def _chain(store: Store) -> list[tuple[int, str]]:
    return [(r.seq, r.hash) for r in store.audit.records()]


def test_a_checkpoint_verifies_with_its_key_and_not_when_altered() -> None:
    signer = _signer()
    checkpoint = signer.sign(AuditHead(seq=7, hash="ab" * 32), at=T0)
    ring = KeyRing.of([signer.public_key])
    assert ring.check(checkpoint) is None
    assert ring.check(replace(checkpoint, seq=6)) is Problem.BAD_SIGNATURE
    assert ring.check(replace(checkpoint, hash="cd" * 32)) is Problem.BAD_SIGNATURE
    assert KeyRing.of([_signer().public_key]).check(checkpoint) is Problem.UNKNOWN_KEY


def test_published_form_round_trips_and_log_lines_are_read() -> None:
    checkpoint = _signer().sign(AuditHead(seq=3, hash="ef" * 32), at=T0)
    lines = [
        '{"event": "agent_started"}',
        "not json",
        '{"event": "audit_checkpoint", "checkpoint": ' + json.dumps(checkpoint.as_json()) + "}",
    ]
    assert read_checkpoint_lines(lines) == [checkpoint]
    assert Checkpoint.from_json(checkpoint.as_json()) == checkpoint


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=60))
def test_any_published_prefix_of_an_intact_chain_is_proved(length: int, at: int) -> None:
    signer = _signer()
    chain = [(n, f"{n:064x}") for n in range(1, length + 1)]
    seq = min(at, length)
    checkpoint = signer.sign(AuditHead(seq=seq, hash=chain[seq - 1][1]), at=T0)
    report = verify_checkpoints(chain, [checkpoint], keys=KeyRing.of([signer.public_key]))
    assert report.ok and report.proved == 1 and report.chain_end == length


@given(st.integers(min_value=2, max_value=60), st.data())
def test_any_chain_cut_below_a_checkpoint_is_reported_truncated(length: int, data: st.DataObject) -> None:
    signer = _signer()
    chain = [(n, f"{n:064x}") for n in range(1, length + 1)]
    cut = data.draw(st.integers(min_value=0, max_value=length - 1))
    checkpoint = signer.sign(AuditHead(seq=length, hash=chain[-1][1]), at=T0)
    report = verify_checkpoints(chain[:cut], [checkpoint], keys=KeyRing.of([signer.public_key]))
    assert [(f.problem, f.seq) for f in report.findings] == [(Problem.TRUNCATED, length)]


def _publish_history(store: Store, clock: FakeClock, signer: CheckpointSigner) -> tuple[AuditLog, ListWitness]:
    log = AuditLog(store.audit, clock=clock)
    witness = ListWitness()
    checkpointer = Checkpointer(signer, [witness], head=store.audit.head, clock=clock)
    for _ in range(3):
        _append(log, 40)
        clock.advance(60)
        assert checkpointer.publish() is not None
    assert [c.seq for c in witness.published] == [40, 80, 120]
    return log, witness


def test_truncate_and_rewind_is_detected_by_checkpoints(store: Store, store_url: str, clock: FakeClock) -> None:
    signer = _signer()
    log, witness = _publish_history(store, clock, signer)

    head = truncate_and_rewind(store_url, delete_last=50)

    assert head == 70
    assert log.verify().ok, "the chain alone cannot see records cut from its end once the head is rewound"
    ring = KeyRing.of([signer.public_key])
    report = verify_checkpoints(_chain(store), witness.published, keys=ring, head=store.audit.head())
    assert not report.ok
    assert [(f.problem, f.seq) for f in report.findings] == [
        (Problem.REWOUND, 70),
        (Problem.TRUNCATED, 80),
        (Problem.TRUNCATED, 120),
    ]
    assert report.proved == 1, "the checkpoint at seq 40 is still a prefix"
    assert "records 71..120" in report.describe()


def test_a_rewritten_history_is_detected_as_a_fork(store: Store, store_url: str, clock: FakeClock) -> None:
    signer = _signer()
    log, witness = _publish_history(store, clock, signer)
    truncate_and_rewind(store_url, delete_last=50)
    _append(log, 60, tag="rewritten")  # the chain grows past every checkpoint again

    assert log.verify().ok, "a rewritten chain is internally consistent"
    ring = KeyRing.of([signer.public_key])
    report = verify_checkpoints(_chain(store), witness.published, keys=ring, head=store.audit.head())
    assert [(f.problem, f.seq) for f in report.findings] == [(Problem.FORKED, 80), (Problem.FORKED, 120)]
    assert report.proved == 1


def test_a_forged_checkpoint_is_reported_not_trusted(store: Store, clock: FakeClock) -> None:
    signer = _signer()
    _log, witness = _publish_history(store, clock, signer)
    forged = replace(witness.published[-1], seq=121)
    report = verify_checkpoints(_chain(store), [*witness.published, forged], keys=KeyRing.of([signer.public_key]))
    assert [(f.problem, f.seq) for f in report.findings] == [(Problem.BAD_SIGNATURE, 121)]


def test_the_publisher_skips_an_unchanged_head_but_not_at_shutdown(store: Store, clock: FakeClock) -> None:
    witness = ListWitness()
    results: list[tuple[str, bool]] = []
    checkpointer = Checkpointer(
        _signer(), [BrokenWitness(), witness], head=store.audit.head, clock=clock,
        on_result=lambda name, ok: results.append((name, ok)),
    )  # fmt: skip
    assert checkpointer.publish() is None, "nothing to vouch for in an empty chain"
    _append(AuditLog(store.audit, clock=clock), 3)
    assert checkpointer.publish() is not None
    assert checkpointer.publish() is None
    clock.advance(5)
    final = checkpointer.publish(force=True)
    assert final is not None and final.time == clock.now
    assert [c.seq for c in witness.published] == [3, 3], "a broken witness does not stop the others"
    assert results == [("broken", False), ("list", True)] * 2, "each failure is counted"


def _key_records(store: Store) -> list[AuditRecord]:
    return store.audit_kinds.records_of_kind(AuditKind.CHECKPOINT_KEY)


def test_key_rotation_is_recorded_in_the_chain_and_endorsed(store: Store, clock: FakeClock) -> None:
    log = AuditLog(store.audit, clock=clock)
    old, new, stranger = _signer(), _signer(), _signer()
    assert record_key(log, old, previous=None, recorded=_key_records(store)) is not None
    assert record_key(log, old, previous=None, recorded=_key_records(store)) is None, "recorded once"
    rotation = record_key(log, new, previous=old, recorded=_key_records(store))
    assert rotation is not None and rotation.payload["endorsed_by"] == old.key_id
    record_key(log, stranger, previous=None, recorded=_key_records(store))  # an unendorsed key

    ring = KeyRing.of([old.public_key])
    assert ring.extend_from_chain(_key_records(store)) == [new.key_id]
    head = store.audit.head()
    checkpoint = new.sign(head, at=clock.now)
    assert verify_checkpoints(_chain(store), [checkpoint], keys=ring).ok
    rogue = stranger.sign(head, at=clock.now)
    report = verify_checkpoints(_chain(store), [rogue], keys=ring)
    assert [f.problem for f in report.findings] == [Problem.UNKNOWN_KEY]


def test_a_forged_endorsement_is_not_trusted(store: Store, clock: FakeClock) -> None:
    log = AuditLog(store.audit, clock=clock)
    old, new, impostor = _signer(), _signer(), _signer()
    payload = new.key_record(impostor)
    payload["endorsed_by"] = old.key_id  # claims the trusted key endorsed it
    log.append(AuditKind.CHECKPOINT_KEY, actor="scutum", payload=payload)
    assert KeyRing.of([old.public_key]).extend_from_chain(_key_records(store)) == []


def test_signing_keys_are_read_as_pem_or_base64() -> None:
    text = new_private_key_text()
    signer = CheckpointSigner.from_text(text)
    raw = base64.b64decode(text)
    pem = (
        Ed25519PrivateKey.from_private_bytes(raw)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    assert CheckpointSigner.from_text(pem).key_id == signer.key_id
    with pytest.raises(ValueError, match="not an Ed25519 private key") as caught:
        CheckpointSigner.from_text("c2VjcmV0")
    assert "c2VjcmV0" not in str(caught.value), "the message never shows the key"


def test_times_are_part_of_what_is_signed() -> None:
    signer = _signer()
    checkpoint = signer.sign(AuditHead(seq=1, hash="00" * 32), at=T0)
    moved = replace(checkpoint, time=T0 + timedelta(hours=1))
    assert KeyRing.of([signer.public_key]).check(moved) is Problem.BAD_SIGNATURE


@given(st.integers(min_value=1, max_value=60), st.data())
def test_any_rewritten_record_up_to_a_checkpoint_is_reported_forked(length: int, data: st.DataObject) -> None:
    signer = _signer()
    chain = [(n, f"{n:064x}") for n in range(1, length + 1)]
    at = data.draw(st.integers(min_value=1, max_value=length))
    checkpoint = signer.sign(AuditHead(seq=at, hash=chain[at - 1][1]), at=T0)
    rewritten = [(seq, digest if seq < at else "f" * 64) for seq, digest in chain]
    report = verify_checkpoints(rewritten, [checkpoint], keys=KeyRing.of([signer.public_key]))
    assert [(f.problem, f.seq) for f in report.findings] == [(Problem.FORKED, at)]


@pytest.mark.parametrize("lines", [[], ["not json"], ['{"seq": "7"}'], ["2026-03-01 " + '{"seq": 1}']])
def test_asking_to_prove_checkpoints_and_reading_none_is_not_a_pass(lines: list[str]) -> None:
    """A wrong or emptied witness file must not read as "all 0 are a prefix of the chain"."""
    chain = [(n, f"{n:064x}") for n in range(1, 4)]
    report = verify_checkpoints(chain, read_checkpoint_lines(lines), keys=KeyRing.of([_signer().public_key]))
    assert not report.ok
    assert [f.problem for f in report.findings] == [Problem.NONE_READ]
    assert "no checkpoint" in report.describe()


def _rotate(store: Store, clock: FakeClock) -> tuple[AuditLog, CheckpointSigner, CheckpointSigner, Checkpoint]:
    """`old` signs a checkpoint, then endorses `new`: the old key is retired from that record on."""
    log = AuditLog(store.audit, clock=clock)
    old, new = _signer(), _signer()
    record_key(log, old, previous=None, recorded=_key_records(store))
    _append(log, 3)
    before = old.sign(store.audit.head(), at=clock.now)
    record_key(log, new, previous=old, recorded=_key_records(store))
    _append(log, 2, tag="after rotation")
    return log, old, new, before


def test_a_retired_key_cannot_endorse_a_new_key(store: Store, clock: FakeClock) -> None:
    log, old, new, _ = _rotate(store, clock)
    thief_key = _signer()
    log.append(AuditKind.CHECKPOINT_KEY, actor="scutum", payload=thief_key.key_record(old))  # old endorses again

    ring = KeyRing.of([old.public_key])

    assert ring.extend_from_chain(_key_records(store)) == [new.key_id]
    head = store.audit.head()
    report = verify_checkpoints(_chain(store), [thief_key.sign(head, at=clock.now)], keys=ring)
    assert [f.problem for f in report.findings] == [Problem.UNKNOWN_KEY]


def test_a_retired_key_still_proves_what_it_signed_but_not_a_later_head(store: Store, clock: FakeClock) -> None:
    _, old, new, before = _rotate(store, clock)
    ring = KeyRing.of([old.public_key, new.public_key])  # both configured as anchors
    ring.extend_from_chain(_key_records(store))
    head = store.audit.head()

    assert verify_checkpoints(_chain(store), [before, new.sign(head, at=clock.now)], keys=ring).ok
    late = verify_checkpoints(_chain(store), [old.sign(head, at=clock.now)], keys=ring)
    assert [f.problem for f in late.findings] == [Problem.RETIRED_KEY]


def test_a_retired_key_may_neither_sign_nor_be_put_back(store: Store, clock: FakeClock) -> None:
    log, old, new, _ = _rotate(store, clock)
    witness = ListWitness()
    publisher = Checkpointer(
        old, [witness], head=store.audit.head, clock=clock, key_records=lambda: _key_records(store)
    )

    assert publisher.publish(force=True) is None and witness.published == []
    assert record_key(log, new, previous=old, recorded=_key_records(store)) is None  # a restart after the rotation
    with pytest.raises(CheckpointKeyError, match="retired"):
        record_key(log, old, previous=None, recorded=_key_records(store))
    with pytest.raises(CheckpointKeyError, match="retired"):
        record_key(log, _signer(), previous=old, recorded=_key_records(store))
    current = Checkpointer(new, [witness], head=store.audit.head, clock=clock, key_records=lambda: _key_records(store))
    assert current.publish() is not None and len(witness.published) == 1
