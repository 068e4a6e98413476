"""Alertmanager's two wire formats, validated on arrival into one normalized `Alert`.

`GET /api/v2/alerts` returns a list of GettableAlert; the webhook receiver gets a version "4"
payload. Each alert is validated on its own: a malformed one becomes a `RejectedAlert` (reason
and an excerpt of the raw input) and the rest of the batch goes through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

EXCERPT_CHARS = 300
"""How much of a rejected alert's raw input is kept for the record."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AlertState(_Wire):
    """The `status` object of a GettableAlert."""

    state: Literal["unprocessed", "active", "suppressed"]
    silenced_by: list[str] = Field(default_factory=list, alias="silencedBy")
    inhibited_by: list[str] = Field(default_factory=list, alias="inhibitedBy")


class Receiver(_Wire):
    name: str


class GettableAlert(_Wire):
    """One alert as `GET /api/v2/alerts` returns it."""

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    fingerprint: str = Field(min_length=1)
    status: AlertState
    receivers: list[Receiver] = Field(default_factory=list)
    generator_url: str = Field(default="", alias="generatorURL")


class WebhookAlert(_Wire):
    """One alert inside an Alertmanager webhook payload."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    fingerprint: str = ""
    generator_url: str = Field(default="", alias="generatorURL")


class WebhookEnvelope(_Wire):
    """The webhook payload around its alerts (the alerts are validated one by one)."""

    version: str
    group_key: str = Field(alias="groupKey")
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Any]
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")


_GETTABLE = TypeAdapter(GettableAlert)
_WEBHOOK_ALERT = TypeAdapter(WebhookAlert)
_ENVELOPE = TypeAdapter(WebhookEnvelope)


class AlertSource(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert in the agent's own terms, whichever format it arrived in."""

    fingerprint: str
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    firing: bool
    """False when Alertmanager reports it resolved."""
    suppressed: bool
    """Silenced or inhibited in Alertmanager."""
    source: AlertSource
    generator_url: str = ""

    def is_active(self, now: datetime) -> bool:
        """Firing, not suppressed, and (for a polled alert) not past its end time."""
        if not self.firing or self.suppressed:
            return False
        return self.source is AlertSource.WEBHOOK or self.ends_at is None or self.ends_at > now


@dataclass(frozen=True, slots=True)
class RejectedAlert:
    """A malformed alert: recorded by the caller and skipped."""

    reason: str
    excerpt: str
    source: AlertSource


@dataclass
class ParsedBatch:
    """The alerts that validated and the ones that did not, in arrival order each."""

    alerts: list[Alert] = field(default_factory=list)
    rejected: list[RejectedAlert] = field(default_factory=list)


def _zero_to_none(moment: datetime | None) -> datetime | None:
    # Alertmanager writes Go's zero time (0001-01-01T00:00:00Z) for "no end".
    if moment is None or moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _excerpt(raw: Any) -> str:
    try:
        text = json.dumps(raw, default=str, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(raw)
    return text[:EXCERPT_CHARS]


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<alert>'}: {e['msg']}" for e in errors[:3]]
    return "; ".join(parts)


def labels_fingerprint(labels: dict[str, str]) -> str:
    """A stable fingerprint from the label set, for webhook senders that omit one."""
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def _check_name(labels: dict[str, str]) -> str:
    name = labels.get("alertname")
    if not name:
        raise ValueError("labels.alertname: missing or empty")
    return name


def _load(payload: bytes | str | Any) -> Any:
    if isinstance(payload, bytes | str):
        return json.loads(payload)
    return payload


def parse_gettable_alerts(payload: bytes | str | Any) -> ParsedBatch:
    """Validate a `GET /api/v2/alerts` response (JSON text or already-decoded list)."""
    batch = ParsedBatch()
    try:
        items = _load(payload)
    except ValueError as exc:
        batch.rejected.append(RejectedAlert(f"not JSON: {exc}", _excerpt(payload), AlertSource.POLL))
        return batch
    if not isinstance(items, list):
        batch.rejected.append(RejectedAlert("expected a list of alerts", _excerpt(items), AlertSource.POLL))
        return batch
    for raw in items:
        try:
            wire = _GETTABLE.validate_python(raw)
            name = _check_name(wire.labels)
        except ValidationError as exc:
            batch.rejected.append(RejectedAlert(_reason(exc), _excerpt(raw), AlertSource.POLL))
            continue
        except ValueError as exc:
            batch.rejected.append(RejectedAlert(str(exc), _excerpt(raw), AlertSource.POLL))
            continue
        state = wire.status
        batch.alerts.append(
            Alert(
                fingerprint=wire.fingerprint,
                name=name,
                labels=wire.labels,
                annotations=wire.annotations,
                starts_at=_aware(wire.starts_at),
                ends_at=_zero_to_none(wire.ends_at),
                firing=True,
                suppressed=state.state == "suppressed" or bool(state.silenced_by or state.inhibited_by),
                source=AlertSource.POLL,
                generator_url=wire.generator_url,
            )
        )
    return batch


def parse_webhook(payload: bytes | str | Any) -> ParsedBatch:
    """Validate an Alertmanager webhook payload (version "4"); each alert stands on its own."""
    batch = ParsedBatch()
    try:
        envelope = _ENVELOPE.validate_python(_load(payload))
    except ValueError as exc:
        reason = _reason(exc) if isinstance(exc, ValidationError) else f"not JSON: {exc}"
        batch.rejected.append(RejectedAlert(f"webhook payload: {reason}", _excerpt(payload), AlertSource.WEBHOOK))
        return batch
    if envelope.version != "4":
        reason = f"webhook payload: unsupported version {envelope.version!r} (expected '4')"
        batch.rejected.append(RejectedAlert(reason, _excerpt(payload), AlertSource.WEBHOOK))
        return batch
    for raw in envelope.alerts:
        try:
            wire = _WEBHOOK_ALERT.validate_python(raw)
            name = _check_name(wire.labels)
        except ValidationError as exc:
            batch.rejected.append(RejectedAlert(_reason(exc), _excerpt(raw), AlertSource.WEBHOOK))
            continue
        except ValueError as exc:
            batch.rejected.append(RejectedAlert(str(exc), _excerpt(raw), AlertSource.WEBHOOK))
            continue
        batch.alerts.append(
            Alert(
                fingerprint=wire.fingerprint or labels_fingerprint(wire.labels),
                name=name,
                labels=wire.labels,
                annotations=wire.annotations,
                starts_at=_aware(wire.starts_at),
                ends_at=_zero_to_none(wire.ends_at),
                firing=wire.status == "firing",
                suppressed=False,
                source=AlertSource.WEBHOOK,
                generator_url=wire.generator_url,
            )
        )
    return batch
