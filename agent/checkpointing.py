"""Checkpoints from settings: the daemon's publisher, and what `scutum audit verify` checks.

`build_checkpointer` gives the daemon its signer and witnesses (nothing when no signing key is
configured) and `start_checkpointing` records the key in the chain. `verify_published` proves
checkpoints from a file or from the cluster against the store's chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from actions.kube import Kube
from agent.audit import AuditKind, AuditLog
from agent.checkpoints import (
    Checkpoint,
    CheckpointReport,
    CheckpointSigner,
    KeyRing,
    load_public_key,
    read_checkpoint_lines,
    verify_checkpoints,
)
from agent.metrics import Metrics
from agent.settings import Settings
from agent.store import Store
from agent.store.records import AuditHead, AuditRecord
from agent.witnesses import Checkpointer, ConfigMapWitness, LogWitness, Witness, record_key


def signers(settings: Settings) -> tuple[CheckpointSigner | None, CheckpointSigner | None]:
    """The current and previous signers the settings configure (either may be None)."""
    audit = settings.audit
    current = CheckpointSigner.from_text(audit.signing_key.get_secret_value()) if audit.signing_key else None
    previous = (
        CheckpointSigner.from_text(audit.previous_signing_key.get_secret_value())
        if audit.previous_signing_key
        else None
    )
    return current, previous


def configmap_witness(settings: Settings, kube: Kube) -> ConfigMapWitness:
    """The ConfigMap witness in the agent's namespace."""
    return ConfigMapWitness(
        kube,
        namespace=settings.agent.namespace,
        configmap=settings.audit.checkpoint_configmap,
        keep=settings.audit.checkpoint_history,
    )


def build_witnesses(settings: Settings, kube: Kube) -> list[Witness]:
    """Every witness the daemon publishes to: the ConfigMap and the log stream."""
    return [configmap_witness(settings, kube), LogWitness()]


def build_checkpointer(
    settings: Settings, store: Store, kube: Kube, *, clock: Callable[[], datetime], metrics: Metrics | None = None
) -> Checkpointer | None:
    """The daemon's checkpoint publisher, or None when no signing key is configured."""
    current, _previous = signers(settings)
    if current is None:
        return None

    def count(witness: str, ok: bool) -> None:
        if metrics is not None:
            metrics.checkpoints.labels(witness=witness, outcome="published" if ok else "failed").inc()

    witnesses = build_witnesses(settings, kube)
    return Checkpointer(
        current,
        witnesses,
        head=store.audit.head,
        clock=clock,
        on_result=count,
        key_records=lambda: store.audit_kinds.records_of_kind(AuditKind.CHECKPOINT_KEY),
    )


def start_checkpointing(settings: Settings, store: Store, audit: AuditLog) -> AuditRecord | None:
    """Record the signing key in the chain when it is new (endorsed by the previous key)."""
    current, previous = signers(settings)
    if current is None:
        return None
    recorded = store.audit_kinds.records_of_kind(AuditKind.CHECKPOINT_KEY)
    return record_key(audit, current, previous=previous, recorded=recorded)


def trusted_keys(settings: Settings, key_records: Iterable[AuditRecord], *, extra: Iterable[str] = ()) -> KeyRing:
    """The anchors (configured public keys, `extra`, the configured signing keys' own), plus
    every key the chain's key records show endorsed by a trusted key."""
    anchors = [load_public_key(text) for text in [*settings.audit.checkpoint_public_keys, *extra]]
    anchors.extend(signer.public_key for signer in signers(settings) if signer is not None)
    ring = KeyRing.of(anchors)
    ring.extend_from_chain(key_records)
    return ring


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """Checkpoints from a file of JSON lines (bare, or the log witness's lines)."""
    with path.open(encoding="utf-8") as lines:
        return read_checkpoint_lines(lines)


def verify_published(
    settings: Settings,
    store: Store,
    checkpoints: Iterable[Checkpoint],
    *,
    extra_keys: Iterable[str] = (),
    head: AuditHead | None = None,
) -> CheckpointReport:
    """Prove `checkpoints` against the store's chain, streamed once as (seq, hash) pairs."""
    keys = trusted_keys(settings, store.audit_kinds.records_of_kind(AuditKind.CHECKPOINT_KEY), extra=extra_keys)
    chain = ((record.seq, record.hash) for record in store.audit.records())
    return verify_checkpoints(chain, checkpoints, keys=keys, head=head if head is not None else store.audit.head())


def verify_exported(
    settings: Settings, records: list[AuditRecord], checkpoints: Iterable[Checkpoint], *, extra_keys: Iterable[str] = ()
) -> CheckpointReport:
    """Prove `checkpoints` against an exported copy of the chain (there is no stored head)."""
    key_records = [record for record in records if record.kind == AuditKind.CHECKPOINT_KEY]
    keys = trusted_keys(settings, key_records, extra=extra_keys)
    return verify_checkpoints(((r.seq, r.hash) for r in records), checkpoints, keys=keys)
