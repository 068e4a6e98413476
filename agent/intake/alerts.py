"""Alertmanager's two wire formats, validated on arrival into one normalized `Alert`.

`GET /api/v2/alerts` returns a list of GettableAlert; the webhook receiver gets a version "4"
payload. A body is parsed within bounds (`wire_json`: size, depth, strict UTF-8) and validated
whole with one `TypeAdapter`; only when that fails is each alert validated on its own, so a
malformed one becomes a `RejectedAlert` (reason and an excerpt of the raw input) and the rest
of the batch goes through. Label and annotation text is cleaned and capped on arrival
(`actions.untrusted`), so nothing downstream sees NUL, control or bidi characters.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from actions.untrusted import (
    MAX_ANNOTATION_CHARS,
    MAX_LABEL_NAME_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    PRINTABLE_ASCII,
    CleanAnnotations,
    CleanLabels,
    clean_annotations,
    clean_labels,
    clean_text,
    plain_json_text,
)
from agent.intake.wire_json import MalformedInput, load_json

EXCERPT_CHARS = 300
"""How much of a rejected alert's raw input is kept for the record."""
DESCRIBED_REJECTIONS = 20
"""Per batch, rejected alerts described with a reason and an excerpt; the rest are counted
(`UNDESCRIBED`), so a body of 60,000 `{}` costs a count, not 60,000 records."""
UNDESCRIBED = "rejected; not described (over the per-batch limit of described rejections)"
MAX_FINGERPRINT_CHARS = 128
"""Longest fingerprint kept (Alertmanager's are 16 hex digits)."""
MAX_URL_CHARS = 2048
"""Longest generator URL kept."""


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


class WebhookPayload(WebhookEnvelope):
    """The whole webhook payload with typed alerts: the fast path validates it in one call."""

    alerts: Annotated[list[WebhookAlert], Field(fail_fast=True)]
    """All or nothing: the first bad alert ends the call (the slow path then takes them one by one)."""


class CleanWebhookAlert(_Wire):
    """A webhook alert whose text is already clean (printable ASCII within every cap): what
    almost every Alertmanager sends. Validating against it checks the cleaning rules inside
    the one validation call, so such a batch is taken without cleaning each label in Python."""

    status: Literal["firing", "resolved"]
    labels: CleanLabels
    annotations: CleanAnnotations = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    fingerprint: Annotated[str, StringConstraints(max_length=MAX_FINGERPRINT_CHARS, pattern=PRINTABLE_ASCII)] = ""
    generator_url: Annotated[str, StringConstraints(max_length=MAX_URL_CHARS, pattern=PRINTABLE_ASCII)] = Field(
        default="", alias="generatorURL"
    )


class CleanWebhookPayload(WebhookEnvelope):
    """A whole webhook payload whose alerts are all `CleanWebhookAlert`."""

    alerts: Annotated[list[CleanWebhookAlert], Field(fail_fast=True)]


# --- the plain path: text that cannot be unclean, decoded by msgspec ------------------------

_PlainName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL_NAME_CHARS)]
_PlainLabels = Annotated[
    dict[_PlainName, Annotated[str, msgspec.Meta(max_length=MAX_LABEL_VALUE_CHARS)]],
    msgspec.Meta(max_length=MAX_LABELS),
]
_PlainNotes = Annotated[
    dict[_PlainName, Annotated[str, msgspec.Meta(max_length=MAX_ANNOTATION_CHARS)]], msgspec.Meta(max_length=MAX_LABELS)
]


_WIRE_NAMES = {"starts_at": "startsAt", "ends_at": "endsAt", "generator_url": "generatorURL"}


class _PlainAlert(msgspec.Struct, frozen=True, gc=False, rename=_WIRE_NAMES):
    """`CleanWebhookAlert` for a body `plain_json_text` vouched for: the same fields and caps
    (the patterns are moot), times kept as text and parsed by pydantic (`_moment`)."""

    status: Literal["firing", "resolved"]
    labels: _PlainLabels
    starts_at: str
    annotations: _PlainNotes = {}
    ends_at: str | None = None
    fingerprint: Annotated[str, msgspec.Meta(max_length=MAX_FINGERPRINT_CHARS)] = ""
    generator_url: Annotated[str, msgspec.Meta(max_length=MAX_URL_CHARS)] = ""


class _PlainPayload(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """`CleanWebhookPayload` for a body `plain_json_text` vouched for."""

    version: str
    group_key: str
    status: Literal["firing", "resolved"]
    alerts: list[_PlainAlert]
    receiver: str = ""
    truncated_alerts: int = 0


_PLAIN_WEBHOOK = msgspec.json.Decoder(_PlainPayload)
_MOMENT = TypeAdapter(datetime)


@functools.lru_cache(maxsize=4096)
def _moment(text: str) -> datetime:
    """A timestamp as pydantic reads it (nanoseconds cut, not rounded: the same instant, so the
    same incident id, whichever path or format an alert came by); one batch's alerts share few."""
    return _MOMENT.validate_python(text)


_GETTABLE = TypeAdapter(GettableAlert)
_GETTABLE_LIST = TypeAdapter(list[GettableAlert])
_WEBHOOK_ALERT = TypeAdapter(WebhookAlert)
_ENVELOPE = TypeAdapter(WebhookEnvelope)
_WEBHOOK = TypeAdapter(WebhookPayload)
_CLEAN_WEBHOOK = TypeAdapter(CleanWebhookPayload)


class AlertSource(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


class Alert(msgspec.Struct, frozen=True):
    """An alert in the agent's own terms, whichever format it arrived in.

    Immutable; a struct, not a frozen dataclass, because a storm builds tens of thousands a
    second and a frozen dataclass pays a Python-level `object.__setattr__` per field (1.2 µs
    for these eleven against 0.2 µs)."""

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

    def resolved(self) -> Alert:
        """The same alert, no longer firing."""
        return msgspec.structs.replace(self, firing=False)


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
    malformed: str | None = None
    """Set when the body as a whole could not be taken (not JSON, too deep, wrong version):
    the sender gets 400, not a partial success."""
    filtered: int = 0
    """Valid alerts dropped because they did not match `label_filters`."""


def _zero_to_none(moment: datetime | None) -> datetime | None:
    # Alertmanager writes Go's zero time (0001-01-01T00:00:00Z) for "no end".
    if moment is None or moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _excerpt(raw: Any) -> str:
    """A short, cleaned excerpt of rejected input (never more than EXCERPT_CHARS)."""
    if isinstance(raw, bytes):
        text = raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw[: EXCERPT_CHARS * 4]
    else:
        try:
            text = json.dumps(raw, default=str, sort_keys=True)[: EXCERPT_CHARS * 4]
        except (TypeError, ValueError, RecursionError):
            text = type(raw).__name__
    return clean_text(text, limit=EXCERPT_CHARS)


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<alert>'}: {e['msg']}" for e in errors[:3]]
    return clean_text("; ".join(parts), limit=EXCERPT_CHARS)


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
        return load_json(payload)
    return payload


def _clean_fingerprint(fingerprint: str) -> str:
    return clean_text(fingerprint, limit=MAX_FINGERPRINT_CHARS)


def matches_filters(labels: Mapping[str, str], filters: Mapping[str, str]) -> bool:
    """True when the labels carry every `label_filters` value (an empty filter takes all)."""
    return all(labels.get(name) == value for name, value in filters.items())


def apply_filters(batch: ParsedBatch, filters: Mapping[str, str]) -> ParsedBatch:
    """The batch without the alerts `label_filters` excludes (counted in `filtered`)."""
    if not filters:
        return batch
    kept = [alert for alert in batch.alerts if matches_filters(alert.labels, filters)]
    dropped = len(batch.alerts) - len(kept)
    return ParsedBatch(kept, batch.rejected, batch.malformed, batch.filtered + dropped)


def _from_gettable(wire: GettableAlert) -> Alert:
    labels = clean_labels(wire.labels)
    state = wire.status
    return Alert(
        fingerprint=_clean_fingerprint(wire.fingerprint),
        name=_check_name(labels),
        labels=labels,
        annotations=clean_annotations(wire.annotations),
        starts_at=_aware(wire.starts_at),
        ends_at=_zero_to_none(wire.ends_at),
        firing=True,
        suppressed=state.state == "suppressed" or bool(state.silenced_by or state.inhibited_by),
        source=AlertSource.POLL,
        generator_url=clean_text(wire.generator_url, limit=MAX_URL_CHARS),
    )


def _fast_gettable(payload: bytes | str | Any) -> ParsedBatch | None:
    """The whole list validated in one call; None when any alert fails (then one by one)."""
    try:
        if isinstance(payload, bytes | str):
            wires = _GETTABLE_LIST.validate_json(payload)
        else:
            wires = _GETTABLE_LIST.validate_python(payload)
        return ParsedBatch(alerts=[_from_gettable(wire) for wire in wires])
    except ValueError:
        return None


def parse_gettable_alerts(payload: bytes | str | Any) -> ParsedBatch:
    """Validate a `GET /api/v2/alerts` response (JSON text or already-decoded list)."""
    fast = _fast_gettable(payload)
    if fast is not None:
        return fast
    batch = ParsedBatch()
    try:
        items = _load(payload)
    except MalformedInput as exc:
        batch.malformed = f"not JSON: {exc}"
        batch.rejected.append(RejectedAlert(batch.malformed, _excerpt(payload), AlertSource.POLL))
        return batch
    if not isinstance(items, list):
        batch.malformed = "expected a list of alerts"
        batch.rejected.append(RejectedAlert(batch.malformed, _excerpt(items), AlertSource.POLL))
        return batch
    for raw in items:
        try:
            batch.alerts.append(_from_gettable(_GETTABLE.validate_python(raw)))
        except ValueError as exc:
            batch.rejected.append(_rejection(exc, raw, AlertSource.POLL, described=len(batch.rejected)))
    return batch


def _rejection(exc: ValueError, raw: Any, source: AlertSource, *, described: int) -> RejectedAlert:
    """Why `raw` was refused, with an excerpt, while fewer than DESCRIBED_REJECTIONS are."""
    if described >= DESCRIBED_REJECTIONS:
        return RejectedAlert(UNDESCRIBED, "", source)
    reason = _reason(exc) if isinstance(exc, ValidationError) else str(exc)
    return RejectedAlert(reason, _excerpt(raw), source)


def _from_webhook(wire: WebhookAlert) -> Alert:
    labels = clean_labels(wire.labels)
    return Alert(
        fingerprint=_clean_fingerprint(wire.fingerprint) or labels_fingerprint(labels),
        name=_check_name(labels),
        labels=labels,
        annotations=clean_annotations(wire.annotations),
        starts_at=_aware(wire.starts_at),
        ends_at=_zero_to_none(wire.ends_at),
        firing=wire.status == "firing",
        suppressed=False,
        source=AlertSource.WEBHOOK,
        generator_url=clean_text(wire.generator_url, limit=MAX_URL_CHARS),
    )


def _from_clean_webhook(wire: CleanWebhookAlert | _PlainAlert, starts_at: datetime, ends_at: datetime | None) -> Alert:
    """An alert whose text is already clean, from either clean form (times parsed by the caller)."""
    labels = wire.labels
    return Alert(
        fingerprint=wire.fingerprint or labels_fingerprint(labels),
        name=_check_name(labels),
        labels=labels,
        annotations=wire.annotations,
        starts_at=_aware(starts_at),
        ends_at=_zero_to_none(ends_at),
        firing=wire.status == "firing",
        suppressed=False,
        source=AlertSource.WEBHOOK,
        generator_url=wire.generator_url,
    )


def _from_plain_webhook(wire: _PlainAlert) -> Alert:
    ends_at = None if wire.ends_at is None else _moment(wire.ends_at)
    return _from_clean_webhook(wire, _moment(wire.starts_at), ends_at)


def _parse_plain_webhook(payload: bytes | str) -> ParsedBatch | None:
    """A payload `plain_json_text` vouched for, decoded into structs and converted; None when
    it does not decode (then pydantic's `_CLEAN_WEBHOOK` decides, with its exact messages)."""
    try:
        whole = _PLAIN_WEBHOOK.decode(payload)
        if whole.version != "4":
            return None
        return ParsedBatch(alerts=[_from_plain_webhook(wire) for wire in whole.alerts])
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None


def parse_clean_webhook(payload: bytes | str | Any) -> ParsedBatch | None:
    """The common case: a version "4" payload whose text needs no cleaning, validated and
    checked in one call; None when anything in it is not so (then `_fast_webhook`).
    A body `plain_json_text` vouches for (ASCII, escapes only of printable characters) is
    decoded by msgspec (`_PlainPayload`, about half pydantic's cost); anything else, or a plain
    body msgspec refuses, by pydantic with the patterns. Both give the same alerts (a property
    test holds them to it)."""
    if isinstance(payload, bytes | str) and plain_json_text(payload):
        plain = _parse_plain_webhook(payload)
        if plain is not None:
            return plain
    try:
        if isinstance(payload, bytes | str):
            whole = _CLEAN_WEBHOOK.validate_json(payload)
        else:
            whole = _CLEAN_WEBHOOK.validate_python(payload)
        if whole.version != "4":
            return None
        return ParsedBatch(alerts=[_from_clean_webhook(wire, wire.starts_at, wire.ends_at) for wire in whole.alerts])
    except ValueError:
        return None


def _unsupported_version(version: str) -> str:
    shown = clean_text(version, limit=20)
    return f"webhook payload: unsupported version {shown!r} (expected '4')"


def _fast_webhook(payload: bytes | str | Any) -> ParsedBatch | None:
    """The whole payload validated in one call; None when anything fails (then one by one)."""
    try:
        if isinstance(payload, bytes | str):
            whole = _WEBHOOK.validate_json(payload)
        else:
            whole = _WEBHOOK.validate_python(payload)
        if whole.version != "4":
            return None
        return ParsedBatch(alerts=[_from_webhook(wire) for wire in whole.alerts])
    except ValueError:
        return None


def parse_webhook(payload: bytes | str | Any, *, try_clean: bool = True) -> ParsedBatch:
    """Validate an Alertmanager webhook payload (version "4"); each alert stands on its own.
    `try_clean=False` when the caller already had `parse_clean_webhook` answer None."""
    fast = parse_clean_webhook(payload) if try_clean else None
    if fast is not None:
        return fast
    fast = _fast_webhook(payload)
    if fast is not None:
        return fast
    batch = ParsedBatch()
    try:
        envelope = _ENVELOPE.validate_python(_load(payload))
    except ValueError as exc:
        reason = _reason(exc) if isinstance(exc, ValidationError) else f"not JSON: {exc}"
        batch.malformed = f"webhook payload: {reason}"
        batch.rejected.append(RejectedAlert(batch.malformed, _excerpt(payload), AlertSource.WEBHOOK))
        return batch
    if envelope.version != "4":
        batch.malformed = _unsupported_version(envelope.version)
        batch.rejected.append(RejectedAlert(batch.malformed, _excerpt(payload), AlertSource.WEBHOOK))
        return batch
    batch.rejected.extend(_each_webhook_alert(envelope.alerts, batch.alerts))
    return batch


def _each_webhook_alert(raws: Iterable[Any], into: list[Alert]) -> list[RejectedAlert]:
    rejected: list[RejectedAlert] = []
    for raw in raws:
        try:
            into.append(_from_webhook(_WEBHOOK_ALERT.validate_python(raw)))
        except ValueError as exc:
            rejected.append(_rejection(exc, raw, AlertSource.WEBHOOK, described=len(rejected)))
    return rejected
