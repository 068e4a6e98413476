"""`scutum report calibration | coverage | autonomy | preconditions`: reports on Scutum's own history.

`--json` prints the report object (a contract tests rely on); `--html FILE` writes one
self-contained HTML file; otherwise a short text summary is printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from agent.cli import EXIT_BAD_INPUT, ConfigOption, DataDirOption, JsonOption, existing_store, settings_from
from agent.reports.build import calibration_lines, calibration_report, coverage_lines, coverage_report, terminal_safe
from agent.reports.html import calibration_html, coverage_html
from agent.reports.labels import load_history
from agent.store import Store
from risk.autonomy import autonomy, autonomy_json
from risk.precondition_audit import audit_json, precondition_audit

report_app = typer.Typer(
    help="Reports on Scutum's own history (calibration, coverage, autonomy, preconditions).", no_args_is_help=True
)

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only incidents since: an ISO date/time, or a span like 30d or 12h (default: all)."),
]
Report = TypeVar("Report")
HtmlOption = Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report to FILE.")]


def say(line: str) -> None:
    """Print one line of report text, made safe for a terminal."""
    typer.echo(terminal_safe(line))


def parse_since(text: str | None, *, now: datetime) -> datetime | None:
    """'30d', '12h' or an ISO date/time (UTC when it has no zone); None for None."""
    if text is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date or a span like 30d: {text!r}", param_hint="--since") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _emit(
    data: dict[str, Any],
    *,
    as_json: bool,
    html: Path | None,
    page: Callable[[dict[str, Any]], str],
    lines: Callable[[dict[str, Any]], list[str]],
) -> None:
    if html is not None:
        try:
            html.write_text(page(data), encoding="utf-8")
        except OSError as exc:
            typer.echo(f"scutum: cannot write {html}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        typer.echo(f"wrote {html}", err=True)
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    elif html is None:
        typer.echo("\n".join(terminal_safe(line) for line in lines(data)))


def read_history(
    config: Path | None, data_dir: Path | None, since: str | None, read: Callable[[Store, datetime | None], Report]
) -> Report:
    """`read(store, since)` over the store that exists (exit 2, nothing created, when there is
    none: a mistyped --data-dir must not report on an empty new store), closed afterwards."""
    start = parse_since(since, now=datetime.now(UTC))
    store = existing_store(settings_from(config, data_dir))
    try:
        return read(store, start)
    finally:
        store.close()


def _rows_out(rows: list[dict[str, Any]], *, as_json: bool, lines: Callable[[dict[str, Any]], Iterable[str]]) -> None:
    """The rows as JSON, or each row's text lines."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    for row in rows:
        for line in lines(row):
            say(line)


@report_app.command("calibration")
def report_calibration(
    since: SinceOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Predicted risk vs observed outcomes, how people approve, drift signals, precondition audit."""
    data = read_history(
        config, data_dir, since, lambda store, start: calibration_report(store, since=start, now=datetime.now(UTC))
    )
    _emit(data, as_json=as_json, html=html, page=calibration_html, lines=calibration_lines)


@report_app.command("coverage")
def report_coverage(
    since: SinceOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """The share of incidents each action addressed, what no action fit, the marginal curve."""
    data = read_history(config, data_dir, since, lambda store, start: coverage_report(store, since=start))
    _emit(data, as_json=as_json, html=html, page=coverage_html, lines=coverage_lines)


@report_app.command("autonomy")
def report_autonomy(
    since: SinceOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per (action, namespace, alert): the track record, and a promotion or demotion it has earned."""
    rows = read_history(
        config, data_dir, since, lambda store, start: autonomy_json(autonomy(load_history(store, since=start)))
    )
    _rows_out(rows, as_json=as_json, lines=_autonomy_lines)


def _autonomy_lines(row: dict[str, Any]) -> Iterable[str]:
    yield (
        f"{row['advice']:<8} {row['action']:<18} {row['namespace'] or '-':<14} {row['alert']:<32} "
        f"mode {row['mode']:<8} ran {row['ran']:>3} bad {row['bad']:>2} streak {row['streak']:>2}  {row['why']}"
    )
    if row["advice"] != "hold":
        yield (
            f"         apply: scutum policy {row['advice']} --action {row['action']} "
            f"--namespace {row['namespace'] or '-'} --alert {row['alert']} --as YOU"
        )


@report_app.command("preconditions")
def report_preconditions(
    since: SinceOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """How often the independent auditor disputed each planner's claims, with examples."""
    rows = read_history(
        config,
        data_dir,
        since,
        lambda store, start: audit_json(precondition_audit(load_history(store, since=start))),
    )
    _rows_out(rows, as_json=as_json, lines=_precondition_lines)


def _precondition_lines(row: dict[str, Any]) -> Iterable[str]:
    share = "-" if row["share"] is None else f"{row['share']:.1%}"
    yield (
        f"{row['planner']:<12} {row['disputed']}/{row['proposals']} proposals disputed ({share}, "
        f"95% {row['low']:.3f}-{row['high']:.3f})"
    )
    for example in row["examples"]:
        yield f"  {example['at']}  {example['incident']}  {example['alert']}  {example['action']}"
