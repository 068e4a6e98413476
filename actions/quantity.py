"""Kubernetes resource quantities ("250m", "1.5Gi", "2e3") parsed exactly and compared by value."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

QUANTITY_PATTERN = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
"""What the API server accepts as a quantity (negative values excluded: no resource is negative)."""

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_SPLIT = re.compile(r"^([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity."""


def parse_quantity(text: str | int | float) -> Decimal:
    """The exact value of a quantity in base units (cores, bytes): '250m' -> 0.25, '1Ki' -> 1024."""
    if isinstance(text, int | float):
        return Decimal(str(text))
    raw = text.strip()
    if not re.match(QUANTITY_PATTERN, raw):
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    match = _SPLIT.match(raw)
    if match is None:  # pragma: no cover - the pattern above already matched
        raise QuantityError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
        return Decimal(number) * _SUFFIXES[suffix]
    except (InvalidOperation, KeyError, ValueError) as exc:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity") from exc


def ratio(new: str, old: str) -> Decimal | None:
    """new / old by value, or None when old is zero (no ratio exists)."""
    base = parse_quantity(old)
    if base == 0:
        return None
    return parse_quantity(new) / base
