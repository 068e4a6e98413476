"""Detection delay and false-alarm rate of each drift signal, measured on generated histories.

For each drift kind, `--seeds` histories of 90 days with the drift injected at day 40, and the
same number of stationary histories; every signal is evaluated once a day from day 28 on.
- detection: the share of drifted histories whose matching signal fired on or after day 40,
  and the median and 90th-percentile delay (days) among those;
- false alarms: the share of stationary histories on which a signal ever fired (any day), and
  the share of drifted histories on which it fired before day 40.

    python -m bench.drift --seeds 100
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from risk.drift import Signal, first_alarms
from risk.simulated_history import Drift, World, generate

MATCH = {
    Drift.RUBBER_STAMPING: Signal.RUBBER_STAMPING,
    Drift.AUTO_FAILURES: Signal.AUTO_BAND_EXCESS,
    Drift.WIDENED_BAND: Signal.AUTO_BAND_WIDENED,
    Drift.PLANNER_GAMING: Signal.CLAIMS_DISPUTED_RISE,
}


def _days(world: World, seed: int) -> dict[Signal, int | None]:
    found = first_alarms(
        generate(world, seed=seed), start=world.start + timedelta(days=28), end=world.start + timedelta(days=world.days)
    )
    return {s: (at - world.start).days if at else None for s, at in found.items()}


def _quantile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def measure(seeds: int) -> list[str]:
    """The markdown rows: one per signal."""
    stationary = [_days(World(), seed) for seed in range(seeds)]
    rows = []
    for drift, signal in MATCH.items():
        world = World(drift=drift)
        runs = [_days(world, seed) for seed in range(1000, 1000 + seeds)]
        delays = [d[signal] - world.drift_day for d in runs if d[signal] is not None and d[signal] >= world.drift_day]
        early = sum(1 for d in runs if d[signal] is not None and d[signal] < world.drift_day)
        false = sum(1 for d in stationary if d[signal] is not None)
        median, p90 = _quantile(delays, 0.5), _quantile(delays, 0.9)
        rows.append(
            f"| `{signal.value}` | {drift.value} | {len(delays)}/{seeds} ({len(delays) / seeds:.0%}) | "
            f"{median if median is not None else '-'} | {p90 if p90 is not None else '-'} | "
            f"{false}/{seeds} ({false / seeds:.0%}) | {early}/{seeds} |"
        )
    return rows


HEADER = (
    "| signal | drift injected at day 40 | detected (day 40-90) | median delay (days) | p90 delay (days) "
    "| false alarms, stationary 90 days | fired before the drift |\n|---|---|---|---|---|---|---|"
)


def section(seeds: int) -> str:
    """The docs/benchmarks.md section."""
    return "\n".join(
        [
            "",
            "## Drift signals (generated histories)",
            "",
            f"Command: `python -m bench.drift --seeds {seeds}` (part of `make bench`). Each row: {seeds} histories "
            "of 90 days (about 20 incidents a day) from `risk/simulated_history.py` with the drift injected at day "
            f"40, and {seeds} stationary histories; every signal evaluated once a day from day 28 (14-day recent "
            "window, 42-day baseline). Definitions: docs/research.md.",
            "",
            HEADER,
            *measure(seeds),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args(argv)
    print(HEADER)
    for row in measure(args.seeds):
        print(row)


if __name__ == "__main__":
    main()
