"""Identity from the proxy's header, and CSRF tokens bound to that identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from console.auth import CSRF_TTL, CsrfTokens, identity_from

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
HEADER = "X-Forwarded-Email"
TRUSTED = ("127.0.0.1",)


def test_identity_comes_from_the_configured_header_of_a_trusted_peer() -> None:
    headers = {"x-forwarded-email": "alice@example.org"}
    assert identity_from(headers, "127.0.0.1", header=HEADER, trusted_proxies=TRUSTED) == "alice@example.org"


def test_no_identity_without_a_configured_header_even_when_one_is_sent() -> None:
    headers = {"x-forwarded-email": "alice@example.org"}
    assert identity_from(headers, "127.0.0.1", header=None, trusted_proxies=TRUSTED) is None


def test_the_header_of_an_untrusted_peer_is_ignored() -> None:
    headers = {"x-forwarded-email": "alice@example.org"}
    assert identity_from(headers, "10.0.0.9", header=HEADER, trusted_proxies=TRUSTED) is None
    assert identity_from(headers, None, header=HEADER, trusted_proxies=TRUSTED) is None


def test_empty_overlong_or_unprintable_identities_are_refused() -> None:
    for value in ("", "   ", "a" * 257, "alice\x1b[31m", "alice\nbob"):
        headers = {"x-forwarded-email": value}
        assert identity_from(headers, "127.0.0.1", header=HEADER, trusted_proxies=TRUSTED) is None


@given(user=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_token_is_valid_only_for_the_user_it_was_issued_to(user: str, other: str) -> None:
    tokens = CsrfTokens(b"k" * 32)
    token = tokens.issue(user, NOW)
    assert tokens.check(user, token, NOW + timedelta(minutes=5))
    assert tokens.check(other, token, NOW) is (other == user)


def test_a_token_expires_and_another_key_does_not_accept_it() -> None:
    tokens = CsrfTokens(b"k" * 32)
    token = tokens.issue("alice", NOW)
    assert not tokens.check("alice", token, NOW + CSRF_TTL + timedelta(seconds=1))
    assert not CsrfTokens(b"x" * 32).check("alice", token, NOW)


@given(garbage=st.text(max_size=80))
def test_malformed_tokens_are_refused(garbage: str) -> None:
    tokens = CsrfTokens(b"k" * 32)
    assert not tokens.check("alice", garbage, NOW) or garbage == tokens.issue("alice", NOW)
