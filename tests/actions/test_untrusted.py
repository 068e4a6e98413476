"""`clean_text`: the one definition of untrusted text made safe to keep and show."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from actions.untrusted import (
    MAX_ANNOTATION_CHARS,
    MAX_LABEL_NAME_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    CleanAnnotations,
    CleanLabels,
    clean_annotations,
    clean_labels,
    clean_text,
)

FORBIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text(), st.integers(min_value=1, max_value=200), st.booleans())
def test_cleaned_text_has_no_control_format_or_bidi_characters_and_fits(text: str, limit: int, multiline: bool) -> None:
    cleaned = clean_text(text, limit=limit, multiline=multiline)
    assert len(cleaned) <= limit
    allowed = {"\n", "\t"} if multiline else set()
    assert all(c in allowed or unicodedata.category(c) not in FORBIDDEN for c in cleaned)
    assert clean_text(cleaned, limit=limit, multiline=multiline) == cleaned


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=50))
def test_printable_ascii_within_the_limit_is_unchanged(text: str) -> None:
    assert clean_text(text, limit=50) == text


def test_nul_bidi_overrides_and_zero_width_characters_are_removed() -> None:
    hostile = "web\x00\u202eevil\u2066\u200b\x1b[31m"
    assert clean_text(hostile, limit=100) == "webevil[31m"


def test_long_text_is_cut_with_an_ellipsis() -> None:
    assert clean_text("x" * 1_000_000, limit=10) == "x" * 9 + "…"


def test_labels_are_capped_in_number_names_and_values() -> None:
    labels = {f"l{i:03}": "v" * 5000 for i in range(200)}
    cleaned = clean_labels(labels)
    assert len(cleaned) == MAX_LABELS
    assert all(len(v) <= 1024 for v in cleaned.values())
    assert clean_labels({"\x00": "x", "ok\x00": "a\x00b"}) == {"ok": "ab"}


def _label_by_label(labels: dict[str, str], value_limit: int) -> dict[str, str]:
    """`clean_labels` as it was defined before its one-check shortcut: each name and value on its own."""
    multiline = value_limit > MAX_LABEL_VALUE_CHARS
    names = list(labels) if len(labels) <= MAX_LABELS else sorted(labels)[:MAX_LABELS]
    cleaned = {}
    for name in names:
        key = clean_text(name, limit=MAX_LABEL_NAME_CHARS)
        if key:
            cleaned[key] = clean_text(labels[name], limit=value_limit, multiline=multiline)
    return cleaned


printable = st.characters(min_codepoint=32, max_codepoint=126)
label_text = st.text(max_size=20) | st.text(alphabet=printable, max_size=20)
long_name = st.text(alphabet=printable, min_size=129, max_size=135)


@given(
    labels=st.dictionaries(label_text | long_name, label_text | st.text(min_size=1025, max_size=1100), max_size=8),
    value_limit=st.sampled_from([MAX_LABEL_VALUE_CHARS, MAX_ANNOTATION_CHARS, 5]),
)
def test_clean_labels_gives_what_cleaning_each_label_gives(labels: dict[str, str], value_limit: int) -> None:
    assert clean_labels(labels, value_limit=value_limit) == _label_by_label(labels, value_limit)
    assert list(clean_labels(labels, value_limit=value_limit)) == list(_label_by_label(labels, value_limit))


_CLEAN_LABELS: TypeAdapter[dict[str, str]] = TypeAdapter(CleanLabels)
_CLEAN_ANNOTATIONS: TypeAdapter[dict[str, str]] = TypeAdapter(CleanAnnotations)
near_limits = st.text(alphabet=printable, min_size=1020, max_size=1030) | st.text(
    alphabet=printable | st.sampled_from("\n\t"), min_size=4090, max_size=4100
)
tricky = st.sampled_from(["", "a\n", "\n", "a\t", "\x7f", "\u202e", "\u200b", "\x00", "é", "~", " "])
any_label = label_text | tricky | near_limits | st.builds(str.__add__, label_text, tricky)


def _plain(labels: dict[str, str], value_limit: int) -> bool:
    """Printable ASCII throughout, no empty name, every cap kept: what must validate as clean."""
    text = "".join(labels) + "".join(labels.values())
    return (
        len(labels) <= MAX_LABELS
        and (text.isascii() and text.isprintable())
        and all(0 < len(k) <= MAX_LABEL_NAME_CHARS for k in labels)
        and all(len(v) <= value_limit for v in labels.values())
    )


@given(st.dictionaries(any_label, any_label, max_size=MAX_LABELS + 2))
def test_labels_that_validate_as_clean_are_what_cleaning_gives_back(labels: dict[str, str]) -> None:
    # The validation-time check (the webhook's fast path) never lets through a label that
    # `clean_labels` would change, and takes every one it would keep as it is.
    # (Text outside printable ASCII is not taken even where cleaning would keep it: the
    # caller then validates leniently and cleans, the slow path, which is just as right.)
    try:
        taken = _CLEAN_LABELS.validate_python(labels)
    except ValidationError:
        assert not _plain(labels, MAX_LABEL_VALUE_CHARS)
        return
    assert taken == labels == clean_labels(labels)


@given(st.dictionaries(any_label, any_label, max_size=MAX_LABELS + 2))
def test_annotations_that_validate_as_clean_are_what_cleaning_gives_back(notes: dict[str, str]) -> None:
    try:
        taken = _CLEAN_ANNOTATIONS.validate_python(notes)
    except ValidationError:
        assert not _plain({k: v.replace("\n", " ").replace("\t", " ") for k, v in notes.items()}, MAX_ANNOTATION_CHARS)
        return
    assert taken == notes == clean_annotations(notes)


@pytest.mark.parametrize("value", ["a\n", "a\r", "x\x00", "\u202eabc", "caf\u00e9", "v" * (MAX_LABEL_VALUE_CHARS + 1)])
def test_a_label_value_cleaning_would_change_is_not_clean(value: str) -> None:
    with pytest.raises(ValidationError):
        _CLEAN_LABELS.validate_python({"pod": value})
