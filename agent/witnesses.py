"""Where signed checkpoints go, and the job that signs and publishes them.

A witness keeps checkpoints somewhere the database admin cannot reach. Two ship with Scutum:

- `ConfigMapWitness`: a ConfigMap in the agent's namespace, written with the agent's own
  Kubernetes credentials; the newest checkpoint is an annotation, the recent history a data key;
- `LogWitness`: one JSON log line per checkpoint (event `audit_checkpoint`), for the log pipeline
  to keep.

A further witness (an S3 bucket with object lock, a transparency log) is one class with a
`name` and a `publish` method, added to `build_witnesses`; one that can be read back also
implements `read`, and `scutum audit verify` can then take its checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from actions.kube import ConflictError, Kube, KubeError
from agent.audit import AuditKind, AuditLog
from agent.checkpoints import Checkpoint, CheckpointKeyError, CheckpointSigner, read_checkpoint_lines, retired_at
from agent.store.records import AuditHead, AuditRecord

log = structlog.get_logger(__name__)

LATEST_ANNOTATION = "scutum.io/audit-checkpoint"
"""The newest checkpoint, as JSON, on the witness ConfigMap."""
HISTORY_KEY = "checkpoints.jsonl"
"""The ConfigMap data key holding recent checkpoints, one JSON object a line, oldest first."""
LOG_EVENT = "audit_checkpoint"
"""The log event name of a published checkpoint."""


class Witness(Protocol):
    """Somewhere checkpoints are published that the database admin does not control."""

    name: str

    def publish(self, checkpoint: Checkpoint) -> None:
        """Keep this checkpoint; raise on failure (the publisher logs it and goes on)."""
        ...


class ReadableWitness(Witness, Protocol):
    """A witness whose checkpoints can be read back for verification."""

    def read(self) -> list[Checkpoint]:
        """Every checkpoint it still holds."""
        ...


class LogWitness:
    """One structured log line per checkpoint: `{"event": "audit_checkpoint", "checkpoint": {...}}`."""

    name = "log"

    def __init__(self, logger: Any = None) -> None:
        self._log = logger if logger is not None else log

    def publish(self, checkpoint: Checkpoint) -> None:
        """Write the log line."""
        self._log.info(LOG_EVENT, checkpoint=checkpoint.as_json())


class ConfigMapWitness:
    """Checkpoints on a ConfigMap in the agent's namespace (created when missing)."""

    name = "configmap"

    def __init__(self, kube: Kube, *, namespace: str, configmap: str, keep: int = 1000) -> None:
        self._kube = kube
        self._namespace = namespace
        self._name = configmap
        self._keep = keep

    def publish(self, checkpoint: Checkpoint) -> None:
        """Set the annotation and append to the history, retrying on a concurrent update."""
        line = json.dumps(checkpoint.as_json(), sort_keys=True, separators=(",", ":"))
        for _attempt in range(5):
            current = self._kube.try_get("ConfigMap", self._name, self._namespace)
            if current is None:
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": self._name, "namespace": self._namespace},
                }
                body = _with(body, line, keep=self._keep)
                try:
                    self._kube.create("ConfigMap", body, self._namespace)
                    return
                except ConflictError:
                    continue
            try:
                self._kube.replace("ConfigMap", self._name, _with(current, line, keep=self._keep), self._namespace)
                return
            except ConflictError:
                continue
        raise KubeError(f"ConfigMap {self._namespace}/{self._name} kept changing under the checkpoint witness")

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in the history, plus the annotation's when it is not among them."""
        current = self._kube.try_get("ConfigMap", self._name, self._namespace)
        if current is None:
            return []
        lines = ((current.get("data") or {}).get(HISTORY_KEY) or "").splitlines()
        latest = ((current.get("metadata") or {}).get("annotations") or {}).get(LATEST_ANNOTATION)
        found = read_checkpoint_lines([*lines, *([latest] if latest else [])])
        return list(dict.fromkeys(found))


def _with(configmap: dict[str, Any], line: str, *, keep: int) -> dict[str, Any]:
    """The ConfigMap with `line` as the newest checkpoint (resourceVersion kept for the update)."""
    metadata = dict(configmap.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), LATEST_ANNOTATION: line}
    data = dict(configmap.get("data") or {})
    history = [*(data.get(HISTORY_KEY) or "").splitlines(), line][-keep:]
    data[HISTORY_KEY] = "\n".join(history) + "\n"
    return {**configmap, "metadata": metadata, "data": data}


class Checkpointer:
    """Signs the chain's head and hands the checkpoint to every witness."""

    def __init__(
        self,
        signer: CheckpointSigner,
        witnesses: Sequence[Witness],
        *,
        head: Callable[[], AuditHead],
        clock: Callable[[], datetime],
        on_result: Callable[[str, bool], None] | None = None,
        key_records: Callable[[], Sequence[AuditRecord]] | None = None,
    ) -> None:
        self.signer = signer
        self._key_records = key_records
        """The chain's key records; when they show this key retired, nothing more is signed."""
        self._on_result = on_result or (lambda _witness, _ok: None)
        """Told (witness name, published?) after each attempt: the metrics count failures."""
        self._witnesses = tuple(witnesses)
        self._head = head
        self._clock = clock
        self._last: AuditHead | None = None

    def publish(self, *, force: bool = False) -> Checkpoint | None:
        """Sign and publish the current head; skipped when the chain is empty, or when the head
        has not moved since the last publication unless `force` (shutdown). A witness that fails
        is logged and the others still get the checkpoint."""
        head = self._head()
        if head.seq == 0 or (head == self._last and not force):
            return None
        if self._key_records is not None and retired_at(self._key_records(), self.signer.public_key) is not None:
            log.warning("checkpoint_key_retired", key_id=self.signer.key_id, seq=head.seq)
            return None
        checkpoint = self.signer.sign(head, at=self._clock())
        published = 0
        for witness in self._witnesses:
            try:
                witness.publish(checkpoint)
                published += 1
            except Exception as exc:  # noqa: BLE001 - a task boundary: one witness must not stop the rest
                log.warning("checkpoint_witness_failed", witness=witness.name, seq=head.seq, error=str(exc))
                self._on_result(witness.name, False)
                continue
            self._on_result(witness.name, True)
        if published:
            self._last = head
        return checkpoint


def record_key(
    audit: AuditLog,
    signer: CheckpointSigner,
    *,
    previous: CheckpointSigner | None,
    recorded: Sequence[AuditRecord],
) -> AuditRecord | None:
    """Put the signing key in the chain (once), endorsed by `previous` when rotating.

    `recorded` are the chain's existing `checkpoint_key` records; nothing is written when the
    key is already among them. A retired key (one that endorsed its successor) may neither sign
    nor endorse: CheckpointKeyError says which.
    """
    if retired_at(recorded, signer.public_key) is not None:
        raise CheckpointKeyError(_retired("signing", signer))
    if any(record.payload.get("key_id") == signer.key_id for record in recorded):
        return None  # already introduced (a restart after a rotation keeps the previous key configured)
    if previous is not None and retired_at(recorded, previous.public_key) is not None:
        raise CheckpointKeyError(_retired("previous signing", previous))
    return audit.append(AuditKind.CHECKPOINT_KEY, actor="scutum", payload=signer.key_record(previous))


def _retired(name: str, signer: CheckpointSigner) -> str:
    return f"the {name} key {signer.key_id} was retired when it endorsed its successor; configure a new key"
