"""A small, safe template syntax for runbook params: `{{ path.to.value | filter(arg) }}`.

No evaluation of code: a placeholder is a dotted path into a fixed set of namespaces, then
optional filters from a closed list. A string that is exactly one placeholder keeps the value's
type (an int stays an int, a time stays a time); otherwise placeholders are interpolated as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from actions.quantity import QuantityError, parse_quantity

NAMESPACES = frozenset(
    {"labels", "annotations", "alert", "incident", "target", "container", "configmap", "service", "hpa", "node"}
)
"""The roots a placeholder may start from."""

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z0-9_./-]+)*$")
_FILTER = re.compile(r"^(?P<name>[a-z_]+)(\((?P<arg>[^()]*)\))?$")
_SUFFIX = re.compile(r"^([+]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")
_BINARY = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki", "")


class TemplateError(ValueError):
    """A placeholder that does not parse, names an unknown value, or cannot be filtered."""


def _number(arg: str) -> Decimal:
    try:
        return Decimal(arg.strip())
    except ArithmeticError as exc:
        raise TemplateError(f"filter argument {arg!r} is not a number") from exc


def _format_quantity(value: Decimal, suffix: str) -> str:
    """A quantity in the given suffix when integral there, else in a finer unit."""
    if suffix and suffix in _BINARY:
        for candidate in _BINARY[_BINARY.index(suffix) :]:
            scaled = value / parse_quantity(f"1{candidate}") if candidate else value
            if scaled == scaled.to_integral_value():
                return f"{int(scaled)}{candidate}"
        return str(math.ceil(value))
    scaled = value / parse_quantity(f"1{suffix}") if suffix else value
    if scaled == scaled.to_integral_value():
        return f"{int(scaled)}{suffix}"
    return f"{math.ceil(value * 1000)}m"


def _times(value: Any, arg: str) -> Any:
    factor = _number(arg)
    if isinstance(value, bool):
        raise TemplateError("times() needs a number or a quantity, got a boolean")
    if isinstance(value, int):
        return math.ceil(Decimal(value) * factor)
    if isinstance(value, float):
        return float(Decimal(str(value)) * factor)
    if isinstance(value, str):
        match = _SUFFIX.match(value.strip())
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            raise TemplateError(str(exc)) from exc
        return _format_quantity(amount * factor, match.group(2) if match else "")
    raise TemplateError(f"times() needs a number or a quantity, got {type(value).__name__}")


def _bound(pick: Callable[[Decimal, Decimal], Decimal]) -> Callable[[Any, str], Any]:
    def apply(value: Any, arg: str) -> Any:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TemplateError(f"min()/max() need a number, got {type(value).__name__}")
        result = pick(Decimal(str(value)), _number(arg))
        return int(result) if isinstance(value, int) and result == result.to_integral_value() else float(result)

    return apply


def _plus(value: Any, arg: str) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TemplateError(f"plus() needs an integer, got {type(value).__name__}")
    return value + int(_number(arg))


def _literal(arg: str) -> Any:
    text = arg.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text.strip("'\"")


FILTERS: dict[str, Callable[[Any, str], Any]] = {
    "times": _times,
    "plus": _plus,
    "min": _bound(min),
    "max": _bound(max),
}
"""Filters a placeholder may apply; `default(x)` is handled apart (it reads a missing value)."""


def _parse(expr: str) -> tuple[list[str], list[tuple[str, str]]]:
    path, *filters = (part.strip() for part in expr.split("|"))
    if not _PATH.match(path) or path.split(".")[0] not in NAMESPACES:
        raise TemplateError(
            f"{{{{ {expr.strip()} }}}}: unknown value {path!r} (roots: {', '.join(sorted(NAMESPACES))})"
        )
    parsed = []
    for text in filters:
        match = _FILTER.match(text)
        if not match or (match["name"] not in FILTERS and match["name"] != "default"):
            raise TemplateError(f"{{{{ {expr.strip()} }}}}: unknown filter {text!r}")
        parsed.append((match["name"], match["arg"] or ""))
    return path.split("."), parsed


def check(value: Any) -> None:
    """Raise TemplateError for any placeholder in `value` (nested) that does not parse."""
    if isinstance(value, str):
        for expr in _PLACEHOLDER.findall(value):
            _parse(expr)
    elif isinstance(value, Mapping):
        for item in value.values():
            check(item)
    elif isinstance(value, list):
        for item in value:
            check(item)


def _lookup(context: Mapping[str, Any], path: list[str]) -> Any:
    if path[0] in ("labels", "annotations") and len(path) > 1:
        # label names hold dots (app.kubernetes.io/name): the rest of the path is one key
        path = [path[0], ".".join(path[1:])]
    node: Any = context
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    path, filters = _parse(expr)
    value = _lookup(context, path)
    for name, arg in filters:
        if name == "default":
            value = _literal(arg) if value is None else value
        elif value is not None:
            value = FILTERS[name](value, arg)
    if value is None:
        raise TemplateError(f"{{{{ {expr.strip()} }}}}: {'.'.join(path)} is not known for this incident")
    return value


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Fill every placeholder in `value` (strings, nested dicts and lists) from `context`."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole:
            return _evaluate(whole.group(1), context)
        return _PLACEHOLDER.sub(lambda m: str(_evaluate(m.group(1), context)), value)
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value
