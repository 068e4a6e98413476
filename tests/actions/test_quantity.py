"""Kubernetes quantities are parsed exactly and compared by value, not by text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actions.quantity import QuantityError, parse_quantity, ratio


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("1", Decimal(1)),
        ("1.5", Decimal("1.5")),
        ("1Ki", Decimal(1024)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("2k", Decimal(2000)),
        ("1e3", Decimal(1000)),
        ("100n", Decimal("1e-7")),
        ("128974848", Decimal(128974848)),
        ("129M", Decimal(129_000_000)),
    ],
)
def test_quantities_parse_to_exact_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_equal_quantities_in_different_notations_compare_equal() -> None:
    assert parse_quantity("0.5") == parse_quantity("500m")
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert parse_quantity("1G") < parse_quantity("1Gi")


@pytest.mark.parametrize("text", ["", "lots", "-1", "1.2.3", "1Gb", "Mi"])
def test_malformed_quantities_raise(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_ratio_by_value() -> None:
    assert ratio("1Gi", "512Mi") == 2
    assert ratio("1", "0") is None
