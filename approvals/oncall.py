"""Who is on call now, from PagerDuty or Opsgenie schedules: approvers that follow the rota.

Each directory answers with the approver identities (Slack user IDs or CLI names) of the people
currently on call, through `identities`, a map from the pager's user (PagerDuty user ID or
Opsgenie username/email) to the approver identity. Answers are cached; when the pager cannot
answer, `OnCallLookupFailed` is raised and the approver policy falls back to the static lists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import httpx


class OnCallLookupFailed(Exception):
    """The schedule could not be read (pager down, bad key, unknown schedule)."""


class OnCallDirectory(Protocol):
    """The approver identities of whoever is on call right now."""

    def on_call(self) -> frozenset[str]:
        """Raises OnCallLookupFailed when it cannot tell."""
        ...


def _identities(users: Sequence[str], mapping: Mapping[str, str]) -> frozenset[str]:
    """Only users mapped to an approver identity count: an unmapped on-call person cannot vote."""
    return frozenset(mapping[u] for u in users if u in mapping)


class PagerDutyOnCall:
    """`GET /oncalls?schedule_ids[]=...` of PagerDuty's REST API (level-1 on-call of each schedule)."""

    def __init__(
        self,
        *,
        api_key: str,
        schedule_ids: Sequence[str],
        identities: Mapping[str, str],
        url: str = "https://api.pagerduty.com",
        client: httpx.Client | None = None,
    ) -> None:
        self._params: list[tuple[str, str]] = [("schedule_ids[]", s) for s in schedule_ids]
        self._headers = {
            "Authorization": f"Token token={api_key}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        }
        self._identities = identities
        self._url = url.rstrip("/") + "/oncalls"
        self._client = client or httpx.Client(timeout=5.0)

    def on_call(self) -> frozenset[str]:
        body = _get_json(self._client, self._url, params=self._params, headers=self._headers)
        oncalls = body.get("oncalls")
        if not isinstance(oncalls, list):
            raise OnCallLookupFailed("PagerDuty answered without an oncalls list")
        users = [
            str(entry["user"]["id"])
            for entry in oncalls
            if isinstance(entry, dict) and entry.get("escalation_level", 1) == 1 and isinstance(entry.get("user"), dict)
        ]
        return _identities(users, self._identities)


class OpsgenieOnCall:
    """`GET /v2/schedules/{id}/on-calls?flat=true` of Opsgenie's Schedule API, for each schedule."""

    def __init__(
        self,
        *,
        api_key: str,
        schedule_ids: Sequence[str],
        identities: Mapping[str, str],
        url: str = "https://api.opsgenie.com",
        client: httpx.Client | None = None,
    ) -> None:
        self._schedules = tuple(schedule_ids)
        self._headers = {"Authorization": f"GenieKey {api_key}"}
        self._identities = identities
        self._url = url.rstrip("/")
        self._client = client or httpx.Client(timeout=5.0)

    def on_call(self) -> frozenset[str]:
        users: list[str] = []
        for schedule in self._schedules:
            url = f"{self._url}/v2/schedules/{quote(schedule, safe='')}/on-calls"
            body = _get_json(
                self._client, url, params=[("scheduleIdentifierType", "id"), ("flat", "true")], headers=self._headers
            )
            recipients = body.get("data", {}).get("onCallRecipients") if isinstance(body.get("data"), dict) else None
            if not isinstance(recipients, list):
                raise OnCallLookupFailed("Opsgenie answered without onCallRecipients")
            users.extend(str(r) for r in recipients)
        return _identities(users, self._identities)


def _get_json(
    client: httpx.Client, url: str, *, params: list[tuple[str, str]], headers: dict[str, str]
) -> dict[str, Any]:
    try:
        response = client.get(url, params=tuple(params), headers=headers)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OnCallLookupFailed(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    if not isinstance(body, dict):
        raise OnCallLookupFailed("the schedule API did not answer with an object")
    return body


class CachedOnCall:
    """Remembers the last answer for `ttl` on the injected clock; failures are not cached."""

    def __init__(self, inner: OnCallDirectory, *, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._hit: tuple[datetime, frozenset[str]] | None = None
        self._lock = threading.Lock()

    def on_call(self) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            hit = self._hit
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        people = self._inner.on_call()
        with self._lock:
            self._hit = (now, people)
        return people
