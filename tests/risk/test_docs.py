"""The worked examples in the risk-model doc are what the engine computes today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.risk_bench import main, worked_examples
from tests.risk import precondition_examples
from tests.risk.situations import situations

DOC = Path(__file__).resolve().parents[2] / "docs" / "risk-model.md"


def test_docs_worked_examples_match_the_engine() -> None:
    assert worked_examples() in DOC.read_text(encoding="utf-8"), "regenerate: python -m bench.risk_bench --examples"


def test_benchmark_reports_every_situation(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--iterations", "5", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report["microseconds_per_call"]) == {s.name for s in situations()}


def test_docs_precondition_examples_match_the_engine() -> None:
    assert precondition_examples.render().strip() in DOC.read_text(encoding="utf-8"), (
        "regenerate: python -m tests.risk.precondition_examples"
    )
