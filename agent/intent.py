"""Intent before effect: what a write means the object to become, and whether the cluster shows it.

Before each real write the executor records an *intent*: the write's verb and path, the part of
the object it sets (`want`: a merge patch, or the replaced spec/data), a fingerprint of the same
part as it was just before, and the object's uid. After a crash, a timeout or an error answer,
`judge` compares the live object with the intent:

- `APPLIED`: the object shows what the write set (or, for a delete or eviction, is gone);
- `NOT_APPLIED`: the object is still exactly as it was before the write;
- `UNKNOWN`: neither (someone else changed it, or it vanished): a person must look.

Pure functions over plain JSON; the fenced guard reads the objects.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

Obj = dict[str, Any]

EXACT_KEYS = frozenset({"data", "binaryData", "selector"})
"""Replaced wholesale by a PUT: compared exactly, not as a subset (a removed key counts)."""


class Effect(StrEnum):
    """What the cluster shows of an intended write."""

    APPLIED = "applied"
    NOT_APPLIED = "not_applied"
    UNKNOWN = "unknown"


def read_path(method: str, path: str, body: Any) -> str:
    """The path to GET to see the object a write addresses."""
    if method == "POST" and path.endswith("/eviction"):
        return path.removesuffix("/eviction")
    if method == "POST":
        name = (body or {}).get("metadata", {}).get("name", "") if isinstance(body, dict) else ""
        return f"{path.rstrip('/')}/{name}"
    return path


def _op(method: str, path: str) -> str:
    if method == "DELETE" or (method == "POST" and path.endswith("/eviction")):
        return "delete"
    return "create" if method == "POST" else "update"


def _wanted(method: str, body: Any) -> Any:
    """The part of the object the write sets."""
    if method == "PATCH" or not isinstance(body, dict):
        return body
    meta = body.get("metadata") or {}
    want = {k: v for k, v in body.items() if k not in ("metadata", "status", "kind", "apiVersion")}
    kept = {k: meta[k] for k in ("labels", "annotations") if meta.get(k) is not None}
    return want | ({"metadata": kept} if kept else {})


def intent_of(method: str, path: str, body: Any, before: Obj | None) -> Obj:
    """The intent of one write, given the object as it was just before (None: absent)."""
    op = _op(method, path)
    want = None if op == "delete" else _wanted(method, body)
    return {
        "op": op,
        "method": method,
        "path": path,
        "read": read_path(method, path, body),
        "want": want,
        "existed": before is not None,
        "uid": (before or {}).get("metadata", {}).get("uid"),
        "before": fingerprint(project(before, want)) if before is not None else None,
    }


def project(obj: Any, shape: Any) -> Any:
    """`obj`'s values at the keys `shape` has (the part of the object a write touches)."""
    if isinstance(shape, dict):
        source = obj if isinstance(obj, dict) else {}
        return {k: project(source.get(k), v) for k, v in shape.items()}
    if isinstance(shape, list) and isinstance(obj, list):
        return [project(o, s) for o, s in zip(obj, shape, strict=False)] + [len(obj)]
    return obj


def fingerprint(value: Any) -> str:
    """A stable hash of a JSON value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def matches(want: Any, have: Any, *, exact: bool = False) -> bool:
    """Whether `have` shows `want`: every key `want` sets has its value (a None removes the key);
    keys the server added are ignored except under EXACT_KEYS; lists match item by item."""
    if isinstance(want, dict):
        return _dict_matches(want, have, exact=exact)
    if isinstance(want, list):
        same_length = isinstance(have, list) and len(want) == len(have)
        return same_length and all(matches(w, h, exact=exact) for w, h in zip(want, have, strict=False))
    return have is None if want is None else bool(want == have)


def _dict_matches(want: Obj, have: Any, *, exact: bool) -> bool:
    if not isinstance(have, dict):
        return False
    if exact and set(have) != {k for k, v in want.items() if v is not None}:
        return False
    return all(matches(v, have.get(k), exact=exact or k in EXACT_KEYS) for k, v in want.items())


def judge(intent: Obj, current: Obj | None) -> Effect:
    """Compare the live object (None: absent) with a recorded intent."""
    if intent["op"] == "delete":
        return _judge_delete(intent, current)
    if current is None:
        return Effect.UNKNOWN if intent.get("existed") else Effect.NOT_APPLIED
    if matches(intent["want"], current):
        return Effect.APPLIED
    if intent.get("existed") and fingerprint(project(current, intent["want"])) == intent.get("before"):
        return Effect.NOT_APPLIED
    return Effect.UNKNOWN


def _judge_delete(intent: Obj, current: Obj | None) -> Effect:
    meta = (current or {}).get("metadata") or {}
    if current is None or meta.get("uid") != intent.get("uid") or meta.get("deletionTimestamp"):
        return Effect.APPLIED
    return Effect.NOT_APPLIED


def combined(effects: list[Effect]) -> Effect:
    """The effect of a run's writes together: none landed, some landed (verification then judges
    the run as a whole), or one cannot be told."""
    if Effect.UNKNOWN in effects:
        return Effect.UNKNOWN
    return Effect.APPLIED if Effect.APPLIED in effects else Effect.NOT_APPLIED
