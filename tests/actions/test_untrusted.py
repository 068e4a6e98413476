"""`clean_text`: the one definition of untrusted text made safe to keep and show."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from actions.untrusted import MAX_LABELS, clean_labels, clean_text

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
