"""Kubernetes resource quantities (`100m`, `1.5`, `128Mi`, `1G`, `1e3`) as plain numbers."""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_QUANTITY_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")


def parse_quantity(value: str | int | float) -> float:
    """The number a quantity stands for (cores for CPU, bytes for memory); ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"quantities are not booleans: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY_RE.match(value.strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression of Kubernetes quantities: {value!r}")
    number, exponent, suffix = match.groups()
    if exponent:
        return float(number + exponent)
    suffix = suffix or ""
    return float(number) * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def format_bytes(value: float) -> str:
    """A byte count in the binary-suffixed form Kubernetes prints (`128Mi`), exact when possible."""
    number = round(value)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if number and number % unit == 0:
            return f"{number // unit}{suffix}"
    return str(number)


def format_cpu(cores: float) -> str:
    """Cores as Kubernetes prints them: whole cores plain, otherwise millicores (`250m`)."""
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
