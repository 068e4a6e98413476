"""`make bench`: every benchmark, one after the other."""

from __future__ import annotations

from bench import risk_bench, sim_api_bench


def main() -> None:
    risk_bench.main([])
    sim_api_bench.main([])


if __name__ == "__main__":
    main()
