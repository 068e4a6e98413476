"""The console benchmark on a small store: it seeds, every page answers, the report renders."""

from __future__ import annotations

from bench import console_bench


def test_console_bench_measures_every_page_on_a_seeded_store() -> None:
    results = console_bench.measure(incidents=60, requests=3)
    assert [r.page for r in results] == list(console_bench.pages(60))
    assert all(r.requests == 3 and 0 < r.p50_ms <= r.p99_ms for r in results)
    section = console_bench.render(results, incidents=60)
    assert section[0] == "## Console pages" and len(section) == 10 + len(results)
