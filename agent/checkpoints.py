"""Signed checkpoints of the audit chain's head, and the proof that a chain extends them.

A checkpoint says "at `time` the chain had `seq` records and the last one's hash was `hash`",
signed with an Ed25519 key the database never sees. Published to witnesses the database admin
does not control (agent.witnesses), checkpoints reveal what the chain alone cannot: records cut
from the end with the head rewound to match, or a history rewritten from some record on.

Keys rotate: the agent records each signing key in the chain (an `AuditKind.CHECKPOINT_KEY`
record), endorsed by the key before it. A verifier trusts the public keys it is given (the
anchors) and every key the chain shows endorsed by a key it already trusts.

Endorsing its successor retires a key: from that record on it endorses nothing more and its
checkpoints of later heads are refused, while those it signed before still verify. So a stolen
old key cannot introduce a key of its own or vouch for a rewritten present.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent.audit import canonical_json
from agent.store.records import AuditHead, AuditRecord

CHECKPOINT_DOMAIN = "scutum-audit-checkpoint/v1"
"""Signed with every checkpoint, so a signature over anything else never passes for one."""
KEY_DOMAIN = "scutum-checkpoint-key/v1"
"""Signed when one key endorses the next."""


class CheckpointKeyError(ValueError):
    """A key could not be read (the message says which and why; it never shows the key)."""


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as base64 of its 32 raw bytes (how settings, records and people pass it)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or base64 of its 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise CheckpointKeyError("the checkpoint signing key is not an Ed25519 private key (PEM or base64)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError("the checkpoint signing key is not an Ed25519 key")
    return key


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or base64 of its 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise CheckpointKeyError(f"not an Ed25519 public key (PEM or base64): {text[:20]}...") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError("not an Ed25519 public key")
    return key


def new_private_key_text() -> str:
    """A fresh private key as base64 of its 32 raw bytes (`scutum audit keygen`)."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the chain's head at a moment."""

    seq: int
    hash: str
    time: datetime
    key_id: str
    signature: str = ""
    """Base64 Ed25519 signature over `signed_bytes()`."""

    def signed_bytes(self) -> bytes:
        """What the signature covers: the fields above, canonical JSON, with the domain."""
        return canonical_json(
            {
                "domain": CHECKPOINT_DOMAIN,
                "seq": self.seq,
                "hash": self.hash,
                "time": _ts(self.time),
                "key_id": self.key_id,
            }
        )

    def as_json(self) -> dict[str, Any]:
        """The published form (one JSON object)."""
        return {
            "seq": self.seq,
            "hash": self.hash,
            "time": _ts(self.time),
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checkpoint:
        """The published form read back; raises ValueError when a field is missing or mistyped."""
        try:
            seq, digest, sig, kid = data["seq"], data["hash"], data["signature"], data["key_id"]
            moment = datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00"))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a checkpoint: {exc}") from None
        if not (isinstance(seq, int) and isinstance(digest, str) and isinstance(sig, str) and isinstance(kid, str)):
            raise ValueError("not a checkpoint: seq, hash, key_id or signature has the wrong type")
        return cls(seq=seq, hash=digest, time=moment.astimezone(UTC), key_id=kid, signature=sig)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class CheckpointSigner:
    """Signs checkpoints with one private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_text(cls, text: str) -> CheckpointSigner:
        """A signer from the settings' key text (see `load_private_key`)."""
        return cls(load_private_key(text))

    def sign(self, head: AuditHead, *, at: datetime) -> Checkpoint:
        """A signed checkpoint of `head` at `at`."""
        draft = Checkpoint(seq=head.seq, hash=head.hash, time=at.astimezone(UTC), key_id=self.key_id)
        signature = base64.b64encode(self._key.sign(draft.signed_bytes())).decode()
        return Checkpoint(seq=draft.seq, hash=draft.hash, time=draft.time, key_id=draft.key_id, signature=signature)

    def key_record(self, previous: CheckpointSigner | None) -> dict[str, Any]:
        """The payload of the chain record that introduces this key, endorsed by `previous`."""
        payload: dict[str, Any] = {
            "key_id": self.key_id,
            "public_key": public_key_text(self.public_key),
            "endorsed_by": None,
            "endorsement": None,
        }
        if previous is not None and previous.key_id != self.key_id:
            statement = _key_statement(self.key_id, payload["public_key"])
            payload["endorsed_by"] = previous.key_id
            payload["endorsement"] = base64.b64encode(previous._key.sign(statement)).decode()
        return payload


def _key_statement(new_key_id: str, public_key: str) -> bytes:
    return canonical_json({"domain": KEY_DOMAIN, "key_id": new_key_id, "public_key": public_key})


def _endorsement(record: AuditRecord, endorser: Ed25519PublicKey) -> Ed25519PublicKey | None:
    """The key a key record shows `endorser` genuinely endorsing (not itself), or None."""
    payload = record.payload
    kid, text, sig = (payload.get(k) for k in ("key_id", "public_key", "endorsement"))
    if not (isinstance(kid, str) and isinstance(text, str) and isinstance(sig, str)):
        return None
    if kid == key_id(endorser):
        return None
    try:
        key = load_public_key(text)
        endorser.verify(base64.b64decode(sig), _key_statement(kid, text))
    except (CheckpointKeyError, InvalidSignature, binascii.Error, ValueError):
        return None
    return key if key_id(key) == kid else None


def retired_at(records: Iterable[AuditRecord], key: Ed25519PublicKey) -> int | None:
    """The seq of the key record in which `key` endorsed its successor (retiring it), or None."""
    own = key_id(key)
    for record in records:
        if record.payload.get("endorsed_by") == own and _endorsement(record, key) is not None:
            return record.seq
    return None


@dataclass
class KeyRing:
    """The public keys a verifier trusts, by key id, and where each retired key retired."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)
    """Key id → seq of the record in which it endorsed its successor."""

    @classmethod
    def of(cls, keys: Iterable[Ed25519PublicKey]) -> KeyRing:
        """A ring trusting exactly these keys (the anchors)."""
        return cls({key_id(key): key for key in keys})

    def extend_from_chain(self, records: Iterable[AuditRecord]) -> list[str]:
        """Trust each key a key record shows endorsed by a trusted key that has not retired, in
        chain order, and retire the endorser; returns the key ids added. Unendorsed, badly
        endorsed, or retired-endorsed keys stay untrusted."""
        added = []
        for record in records:
            by = record.payload.get("endorsed_by")
            if not isinstance(by, str) or by not in self.keys or by in self.retired:
                continue
            key = _endorsement(record, self.keys[by])
            if key is None:
                continue
            self.retired[by] = record.seq
            kid = key_id(key)
            if kid not in self.keys:
                self.keys[kid] = key
                added.append(kid)
        return added

    def check(self, checkpoint: Checkpoint) -> Problem | None:
        """None when the checkpoint's signature verifies with a trusted key."""
        key = self.keys.get(checkpoint.key_id)
        if key is None:
            return Problem.UNKNOWN_KEY
        retired = self.retired.get(checkpoint.key_id)
        if retired is not None and checkpoint.seq >= retired:
            return Problem.RETIRED_KEY
        try:
            key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            return Problem.BAD_SIGNATURE
        return None


class Problem(StrEnum):
    """What a published checkpoint reveals about the current chain."""

    TRUNCATED = "truncated"
    """The chain ends before a record a checkpoint vouches for."""
    REWOUND = "rewound"
    """The stored head is behind a checkpoint."""
    FORKED = "forked"
    """A record differs from the one a checkpoint vouches for: the history was rewritten."""
    MISSING = "missing"
    """The record a checkpoint vouches for is absent from the middle of the chain."""
    BAD_SIGNATURE = "bad signature"
    """The checkpoint's signature does not verify: it was forged or altered."""
    UNKNOWN_KEY = "unknown key"
    """No trusted key has the checkpoint's key id."""
    RETIRED_KEY = "retired key"
    """The checkpoint's key had endorsed its successor before the head it signs: it was retired."""
    NONE_READ = "no checkpoints"
    """Checkpoints were asked for and none was read: nothing is proved (a wrong or emptied file)."""


@dataclass(frozen=True)
class Finding:
    """One problem, at the sequence number it concerns."""

    problem: Problem
    seq: int
    detail: str


@dataclass(frozen=True)
class CheckpointReport:
    """The outcome of checking published checkpoints against the chain."""

    checkpoints: int
    """How many checkpoints were read."""
    proved: int
    """How many checkpointed sequence numbers are proved to name a record of the current chain."""
    chain_end: int
    """The last sequence number of the chain as read."""
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every checkpoint is signed by a trusted key and proved a prefix."""
        return not self.findings

    def describe(self) -> str:
        """Lines for a person."""
        if self.ok:
            return f"checkpoints: all {self.proved} are a prefix of the chain (it ends at seq {self.chain_end})"
        lines = [f"checkpoints: {len(self.findings)} problems, {self.proved} of {self.checkpoints} proved"]
        lines.extend(f"  seq {f.seq}: {f.problem}: {f.detail}" for f in self.findings)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The `--json` form."""
        return {
            "ok": self.ok,
            "checkpoints": self.checkpoints,
            "proved": self.proved,
            "chain_end": self.chain_end,
            "findings": [{"problem": f.problem.value, "seq": f.seq, "detail": f.detail} for f in self.findings],
        }


def verify_checkpoints(
    chain: Iterable[tuple[int, str]],
    checkpoints: Iterable[Checkpoint],
    *,
    keys: KeyRing,
    head: AuditHead | None = None,
) -> CheckpointReport:
    """Prove every checkpoint names a record of `chain` (its (seq, hash) pairs in seq order,
    read once, streamed) with the same hash; report truncation, rewinding and forks by seq."""
    findings: list[Finding] = []
    wanted: dict[int, dict[str, Checkpoint]] = {}
    total = 0
    for checkpoint in checkpoints:
        total += 1
        problem = keys.check(checkpoint)
        if problem is not None:
            detail = f"checkpoint of {_ts(checkpoint.time)} by key {checkpoint.key_id} cannot be trusted"
            findings.append(Finding(problem, checkpoint.seq, detail))
            continue
        wanted.setdefault(checkpoint.seq, {}).setdefault(checkpoint.hash, checkpoint)
    for seq, signed in sorted(wanted.items()):
        if len(signed) > 1:
            findings.append(Finding(Problem.FORKED, seq, "trusted checkpoints vouch for different records at this seq"))
    if total == 0:
        findings.append(Finding(Problem.NONE_READ, 0, "no checkpoint was read, so nothing is proved"))
    top = max(wanted, default=0)
    proved, chain_end = _walk(chain, wanted, findings)
    for seq in sorted(wanted):
        first = min(wanted[seq].values(), key=lambda c: c.time)
        if seq > chain_end:
            signed_at = _ts(first.time)
            detail = f"the chain ends at seq {chain_end}; records {chain_end + 1}..{seq} signed at {signed_at} are gone"
            findings.append(Finding(Problem.TRUNCATED, seq, detail))
        else:
            detail = f"the record signed at {_ts(first.time)} is not in the chain"
            findings.append(Finding(Problem.MISSING, seq, detail))
    if head is not None and top > head.seq:
        detail = f"the stored head is at seq {head.seq}, behind checkpoint seq {top}"
        findings.append(Finding(Problem.REWOUND, head.seq, detail))
    return CheckpointReport(total, len(proved), chain_end, tuple(sorted(findings, key=lambda f: (f.seq, f.problem))))


def _walk(
    chain: Iterable[tuple[int, str]], wanted: dict[int, dict[str, Checkpoint]], findings: list[Finding]
) -> tuple[set[int], int]:
    """One pass over the chain: match and remove what the checkpoints name; returns the seqs
    proved and the chain's last seq. What is left in `wanted` was not found."""
    proved: set[int] = set()
    chain_end = 0
    for seq, digest in chain:
        chain_end = seq
        signed = wanted.pop(seq, None)
        if signed is None:
            continue
        for other, checkpoint in signed.items():
            if other == digest:
                proved.add(seq)
            else:
                detail = f"record hash {digest[:12]}… differs from {other[:12]}… signed at {_ts(checkpoint.time)}"
                findings.append(Finding(Problem.FORKED, seq, detail))
    return proved, chain_end


def read_checkpoint_lines(lines: Iterable[str]) -> list[Checkpoint]:
    """Checkpoints from JSON lines: bare checkpoints, or log lines carrying one under
    `checkpoint` (what the log witness writes). Other lines are skipped: a log file holds more."""
    found = []
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        candidate = data.get("checkpoint") if isinstance(data.get("checkpoint"), dict) else data
        try:
            found.append(Checkpoint.from_json(candidate))
        except ValueError:
            continue
    return found
