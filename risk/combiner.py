"""The combiner: four component scores into one total in [0, 1].

    total = max(weighted_mean, peak_factor * max_component)

The weighted mean lets several moderate concerns add up; the peak term keeps one alarming
component from being averaged away (with the default 0.9, a component at 1.0 alone gives
0.9, above the default deny line of 0.8). Both terms are non-decreasing in every component
and lie in [0, 1] when weights are non-negative and peak_factor is in [0, 1], so the total is
deterministic, bounded and monotone.
"""

from __future__ import annotations

from collections.abc import Mapping

from risk.model import Component, ComponentScore, RiskScore
from risk.settings import RiskSettings


def combine(components: Mapping[Component, ComponentScore], settings: RiskSettings) -> RiskScore:
    """The total risk for the given component scores, in the fixed order of `Component`."""
    weights = settings.weights.as_mapping()
    ordered = {c: components[c] for c in Component}
    scores = {c: min(1.0, max(0.0, s.score)) for c, s in ordered.items()}
    weight_sum = sum(weights.values())
    mean = sum(weights[c] * scores[c] for c in Component) / weight_sum
    peak = settings.peak_factor * max(scores.values())
    total = min(1.0, max(0.0, mean, peak))
    return RiskScore(total=total, components=ordered)
