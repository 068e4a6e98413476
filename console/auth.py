"""Who is looking, and whether a form really came from the console.

Identity comes only from a header an authenticating proxy sets (configured explicitly, and
believed only from the proxy's addresses); without it the viewer is anonymous and the console
is read-only. State-changing forms carry a CSRF token: an HMAC over the user and an issue time,
so a token is bound to the person it was issued to and expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_IDENTITY_CHARS = 256
"""A longer identity header is refused (the store keeps approver names up to this length)."""
CSRF_TTL = timedelta(hours=12)
"""How long a CSRF token stays valid after the page that carried it was rendered."""


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: `user` is None when nobody is signed in."""

    user: str | None = None
    may_act: bool = False
    """Signed in and on the console approver list: approve, reject, pause and resume are offered."""
    refusal: str = ""
    """Why acting is not offered (shown on the page)."""

    @property
    def signed_in(self) -> bool:
        """True when the proxy named a user."""
        return self.user is not None


def identity_from(
    headers: Mapping[str, str], peer: str | None, *, header: str | None, trusted_proxies: Sequence[str]
) -> str | None:
    """The signed-in user the proxy named, or None: no header configured, an untrusted peer,
    a missing, empty, overlong or non-printable value."""
    if not header or peer not in trusted_proxies:
        return None
    value = headers.get(header.lower(), "").strip()
    if not value or len(value) > MAX_IDENTITY_CHARS or not value.isprintable():
        return None
    return value


class CsrfTokens:
    """Issues and checks tokens bound to one user; the key is per process unless configured."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, user: str, now: datetime) -> str:
        """A token for `user`, valid for `CSRF_TTL` from `now`."""
        stamp = str(int(now.timestamp()))
        return f"{stamp}.{self._mac(user, stamp)}"

    def check(self, user: str, token: str, now: datetime) -> bool:
        """True when `token` was issued to `user` by this key and has not expired."""
        stamp, _, mac = token.partition(".")
        if not stamp.isdigit() or not mac:
            return False
        age = now.timestamp() - int(stamp)
        if age < -60 or age > CSRF_TTL.total_seconds():
            return False
        return hmac.compare_digest(mac, self._mac(user, stamp))

    def _mac(self, user: str, stamp: str) -> str:
        return hmac.new(self._key, f"{stamp}\n{user}".encode(), hashlib.sha256).hexdigest()
