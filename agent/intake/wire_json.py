"""Untrusted JSON, parsed within bounds: size, nesting depth and strict UTF-8.

Every body or file that comes from outside (a webhook push, a poll answer, a Slack payload,
the file given to `scutum plan`) is parsed here, never with `json.loads`, so a hostile input
is a `MalformedInput` with a one-line reason, not a `RecursionError` or a `UnicodeDecodeError`.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (an Alertmanager payload needs 4)."""
MAX_JSON_BYTES = 5 * 1024 * 1024
"""Largest JSON document accepted from any source."""


class MalformedInput(ValueError):
    """Input that cannot be taken: too large, too deep, not UTF-8 or not JSON."""


def check_utf8(data: bytes, *, what: str = "body") -> str:
    """`data` decoded as strict UTF-8, else MalformedInput naming the first bad byte."""
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{what} is not UTF-8 (bad byte at offset {exc.start})") from None


def json_depth(value: Any) -> int:
    """Nesting depth of decoded JSON (a scalar is 0, `[]` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(
    data: bytes | str, *, what: str = "body", max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse untrusted JSON: MalformedInput (one line, no traceback) when it is too large,
    nested deeper than `max_depth`, not UTF-8, or not JSON."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise MalformedInput(f"{what} is {len(raw)} bytes, more than the {max_bytes} allowed")
    check_utf8(raw, what=what)
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if "recursion limit" in reason:
            raise MalformedInput(f"{what} is nested deeper than {max_depth} levels") from None
        raise MalformedInput(f"{what} is not valid JSON: {reason}") from None
    if json_depth(value) > max_depth:
        raise MalformedInput(f"{what} is nested deeper than {max_depth} levels")
    return value
