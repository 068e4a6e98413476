"""The `scutum` command line.

Groups are sub-apps (`config`, `db`, `audit`); add a group with ``app.add_typer(group, name=...)``
and keep its commands in their own module when they grow (`run`, `demo`, `plan`, `actions`,
`approvals`, `sim` belong there). Commands that read the store take `--config FILE` and
`--data-dir DIR` (embedded SQLite there, overriding a configured database URL).
Bad settings print a readable message and exit 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from agent.app import audit_log, open_store
from agent.audit import VerifyReport, read_export, verify_records
from agent.control import KillSwitch
from agent.settings import Settings, SettingsError, load_settings, redacted
from agent.status import read_status

EXIT_BAD_INPUT = 2
EXIT_CHAIN_BROKEN = 1

app = typer.Typer(name="scutum", help="A Kubernetes remediation agent.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
audit_app = typer.Typer(help="Check and export the audit chain.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file (default: $SCUTUM_CONFIG, else none).", dir_okay=False),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Use the embedded SQLite store in this directory.", file_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def settings_from(config: Path | None, data_dir: Path | None = None) -> Settings:
    """Load settings for a command; exit 2 with the message on bad input."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if data_dir is not None:
        settings = settings.model_copy(
            update={"data_dir": data_dir, "database": settings.database.model_copy(update={"url": None})}
        )
    return settings


@config_app.command("show")
def config_show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective settings, secrets redacted."""
    data = redacted(settings_from(config))
    typer.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False).rstrip())


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending schema migrations."""
    store = open_store(settings_from(config, data_dir))
    typer.echo(f"database schema is current: {store.url}")
    store.close()


@audit_app.command("verify")
def audit_verify(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", "-i", help="Verify an exported copy (JSON Lines) instead of the store.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Exit 0 when the chain is intact, 1 naming the first bad record otherwise."""
    settings = settings_from(config, data_dir)
    if input_file is not None:
        report = _verify_export(settings, input_file)
    else:
        store = open_store(settings)
        try:
            report = audit_log(settings, store).verify()
        finally:
            store.close()
    if as_json:
        out: dict[str, Any] = {**report.__dict__, "problem": report.problem.value if report.problem else None}
        typer.echo(json.dumps(out, sort_keys=True))
    else:
        typer.echo(report.describe(), err=not report.ok)
    if not report.ok:
        raise typer.Exit(EXIT_CHAIN_BROKEN)


def _verify_export(settings: Settings, path: Path) -> VerifyReport:
    """An exported chain checked offline (records removed from its end cannot be seen: no head)."""
    key = settings.audit.hmac_key.get_secret_value().encode() if settings.audit.hmac_key else None
    try:
        with path.open(encoding="utf-8") as lines:
            records = read_export(lines)
    except OSError as exc:
        typer.echo(f"scutum: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except ValueError as exc:
        typer.echo(f"scutum: {path}: {exc}", err=True)
        raise typer.Exit(EXIT_CHAIN_BROKEN) from None
    return verify_records(records, key=key)


@audit_app.command("export")
def audit_export(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Write every audit record as JSON Lines."""
    settings = settings_from(config, data_dir)
    store = open_store(settings)
    try:
        log = audit_log(settings, store)
        if output is None:
            count = log.export(sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as stream:
                count = log.export(stream)
    finally:
        store.close()
    typer.echo(f"exported {count} records", err=True)


AsUserOption = Annotated[str, typer.Option("--as", help="Who is doing this (recorded in the audit chain).")]


@app.command("pause")
def pause(
    reason: Annotated[str, typer.Option("--reason", help="Why actions are stopped.")],
    as_user: AsUserOption,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Kill switch: stop every action until `scutum resume`."""
    _switch(config, data_dir, as_user=as_user, pause_reason=reason)


@app.command("resume")
def resume(as_user: AsUserOption, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Lift the kill switch."""
    _switch(config, data_dir, as_user=as_user, pause_reason=None)


def _switch(config: Path | None, data_dir: Path | None, *, as_user: str, pause_reason: str | None) -> None:
    settings = settings_from(config, data_dir)
    store = open_store(settings)
    switch = KillSwitch(store, audit_log(settings, store))
    try:
        switched = switch.resume(by=as_user) if pause_reason is None else switch.pause(reason=pause_reason, by=as_user)
    except ValueError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        store.close()
    typer.echo(switched.message())


@app.command("status")
def status(config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """The kill switch (who, why, since when), the leader, pending approvals, open incidents
    and each replica's last poll, read from the store."""
    settings = settings_from(config, data_dir)
    store = open_store(settings)
    try:
        report = read_status(store)
    finally:
        store.close()
    typer.echo(json.dumps(report.as_json(), indent=2) if as_json else "\n".join(report.lines()))


def main() -> None:
    """Console-script entry point `scutum`."""
    app()
