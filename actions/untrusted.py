"""Untrusted text made safe to keep and show: one function for every layer.

Alert labels and annotations, model output and Slack fields are data from outside. Before
they are stored, logged, rendered or sent anywhere they pass through `clean_text`: control
characters (NUL included), bidirectional overrides, zero-width and other format characters
and lone surrogates are removed, and the length is capped. It lives in the bottom layer so
intake, risk, approvals and the agent all use the same definition.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, StringConstraints

ELLIPSIS = "…"
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned, and the
Unicode line/paragraph separators."""
_KEPT_CONTROLS = frozenset("\n\t")

MAX_LABEL_NAME_CHARS = 128
"""Longest label or annotation name kept; longer names are cut."""
MAX_LABEL_VALUE_CHARS = 1024
"""Longest label value kept; longer values are cut and end with an ellipsis."""
MAX_ANNOTATION_CHARS = 4096
"""Longest annotation value kept (descriptions may be paragraphs)."""
MAX_LABELS = 64
"""Most labels (or annotations) kept per alert; the rest are dropped, in sorted-name order."""


def clean_text(text: str, *, limit: int, multiline: bool = False) -> str:
    """`text` without control, format and bidi characters, at most `limit` characters.

    With `multiline`, newlines and tabs are kept; otherwise they become spaces. Cut text
    ends with an ellipsis so a reader can tell it was cut.
    """
    if text.isascii() and text.isprintable() and len(text) <= limit:
        return text  # the common case, without a per-character walk
    kept: list[str] = []
    for char in text:
        if char in _KEPT_CONTROLS:
            kept.append(char if multiline else " ")
        elif unicodedata.category(char) not in _DROPPED_CATEGORIES:
            kept.append(char)
        if len(kept) > limit:
            break
    cleaned = "".join(kept)
    if len(cleaned) > limit:
        cleaned = cleaned[: max(0, limit - 1)] + ELLIPSIS
    return cleaned


def clean_labels(labels: Mapping[str, str], *, value_limit: int = MAX_LABEL_VALUE_CHARS) -> dict[str, str]:
    """Labels (or annotations) with names and values cleaned and capped, at most `MAX_LABELS`."""
    if len(labels) <= MAX_LABELS and _already_clean(labels, value_limit):
        return dict(labels)  # the common case: one check over every name and value at once
    multiline = value_limit > MAX_LABEL_VALUE_CHARS
    cleaned: dict[str, str] = {}
    names = list(labels) if len(labels) <= MAX_LABELS else sorted(labels)[:MAX_LABELS]
    for name in names:
        key = clean_text(name, limit=MAX_LABEL_NAME_CHARS)
        if key:
            cleaned[key] = clean_text(labels[name], limit=value_limit, multiline=multiline)
    return cleaned


def _already_clean(labels: Mapping[str, str], value_limit: int) -> bool:
    """Every name and value printable ASCII, no name empty, none longer than its cap: what
    `clean_text` would give back unchanged, checked in a few C calls instead of two per label."""
    joined = "".join(labels) + "".join(labels.values())
    return (
        joined.isascii()
        and joined.isprintable()
        and "" not in labels
        and max(map(len, labels), default=0) <= MAX_LABEL_NAME_CHARS
        and max(map(len, labels.values()), default=0) <= value_limit
    )


def clean_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    """Annotations: like labels, but longer values and line breaks are kept."""
    return clean_labels(annotations, value_limit=MAX_ANNOTATION_CHARS)


# --- text that is already clean, checked in validation -----------------------------------

PRINTABLE_ASCII = r"^[ -~]*$"
"""The pattern of text `clean_text` returns unchanged (within its limit): printable ASCII only.
Used as a validation constraint, so a batch that is already clean is checked by one compiled
pattern during validation and needs no walk in Python afterwards."""
_PRINTABLE_ASCII_LINES = r"^[\t\n -~]*$"


CleanName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_NAME_CHARS, pattern=PRINTABLE_ASCII)]
"""A label or annotation name `clean_labels` keeps as it is."""
CleanValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE_CHARS, pattern=PRINTABLE_ASCII)]
"""A label value `clean_labels` keeps as it is."""
CleanNote = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION_CHARS, pattern=_PRINTABLE_ASCII_LINES)]
"""An annotation value `clean_annotations` keeps as it is (line breaks and tabs allowed)."""
CleanLabels = Annotated[dict[CleanName, CleanValue], Field(max_length=MAX_LABELS)]
"""Labels that `clean_labels` returns unchanged; anything else fails validation (then the
caller validates leniently and cleans)."""
CleanAnnotations = Annotated[dict[CleanName, CleanNote], Field(max_length=MAX_LABELS)]
"""Annotations that `clean_annotations` returns unchanged."""


PLAIN_ESCAPES_CHECKED = 64
"""Escapes `plain_json_text` follows one by one before it gives up (a body is then not plain)."""


def plain_json_text(text: bytes | str) -> bool:
    """Whether every string JSON `text` can decode to is printable ASCII, so that the patterns
    of `CleanName`, `CleanValue` and `CleanNote` would all pass and only lengths are left to check.

    The text is ASCII without DEL, and its escapes (at most `PLAIN_ESCAPES_CHECKED`) are only
    `\\"`, `\\\\` and `\\/`, which stand for printable characters (Alertmanager's group keys
    are full of quotes): a raw control character inside a JSON string is invalid JSON, which
    the parsers refuse. A few C scans over the bytes, where the patterns cost a match per
    string. Each backslash found is paired with the next byte, left to right, as JSON pairs them."""
    raw = text.encode("ascii") if isinstance(text, str) and text.isascii() else text
    if not isinstance(raw, bytes) or not raw.isascii() or b"\x7f" in raw:
        return False
    at = raw.find(b"\\")
    for _ in range(PLAIN_ESCAPES_CHECKED):
        if at < 0:
            return True
        if raw[at + 1 : at + 2] not in (b'"', b"\\", b"/"):
            return False
        at = raw.find(b"\\", at + 2)
    return at < 0
