"""The exact statistics behind the reports."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from risk.intervals import binomial_upper_tail, brier, fisher_greater, median, two_proportion_p, wilson


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_holds_the_observed_rate_and_stays_in_unit(k: int, n: int) -> None:
    k = min(k, n)
    low, high = wilson(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_matches_a_published_value() -> None:
    low, high = wilson(81, 263)  # Wilson (1927) style example; reference from R's prop.test(correct=FALSE)
    assert math.isclose(low, 0.2553, abs_tol=5e-4)
    assert math.isclose(high, 0.3662, abs_tol=5e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_binomial_tail_is_exact_on_small_cases() -> None:
    assert math.isclose(binomial_upper_tail(2, 3, 0.5), 0.5)
    assert math.isclose(binomial_upper_tail(3, 3, 0.1), 0.001)
    assert binomial_upper_tail(0, 5, 0.2) == 1.0
    assert binomial_upper_tail(6, 5, 0.2) == 0.0


def test_fisher_exact_matches_the_textbook_tea_tasting() -> None:
    # Fisher's lady tasting tea: 3 of 4 right -> one-sided p = 17/70.
    assert math.isclose(fisher_greater(1, 4, 3, 4), 17 / 70)
    assert math.isclose(fisher_greater(5, 10, 0, 10), 1.0)


@given(st.integers(0, 50), st.integers(0, 50))
def test_more_hits_in_the_second_sample_never_raise_its_p_value(a: int, b: int) -> None:
    assert fisher_greater(a, 50, min(b + 1, 50), 50) <= fisher_greater(a, 50, b, 50) + 1e-12
    assert two_proportion_p(a, 50, min(b + 1, 50), 50) <= two_proportion_p(a, 50, b, 50) + 1e-12


def test_brier_and_median() -> None:
    assert brier([]) is None
    assert math.isclose(brier([(0.2, False), (0.9, True)]) or 0.0, (0.04 + 0.01) / 2)
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0]) == 2.5
    assert median([]) is None
