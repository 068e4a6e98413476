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
from urllib.parse import urlsplit

import typer
import yaml

from agent.app import StoreMissing, audit_log, heap_set_aside, kube_from, open_store
from agent.audit import VerifyReport, read_export, verify_records
from agent.checkpointing import configmap_witness, read_checkpoint_file, verify_exported, verify_published
from agent.checkpoints import (
    Checkpoint,
    CheckpointKeyError,
    CheckpointReport,
    CheckpointSigner,
    new_private_key_text,
    public_key_text,
)
from agent.control import KillSwitch
from agent.settings import Settings, SettingsError, load_settings, redacted
from agent.status import read_fleet_status, read_status
from agent.store import Store
from agent.store.records import AuditRecord

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


def existing_store(settings: Settings) -> Store:
    """The store for a read-only command; exit 2 with one line when it does not exist."""
    try:
        return open_store(settings, create=False)
    except StoreMissing as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@config_app.command("show")
def config_show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective settings, secrets redacted."""
    data = redacted(settings_from(config))
    typer.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False).rstrip())


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending schema migrations (as the owner role when `database.migration_url` is set,
    then grant the daemon's runtime role its limited privileges)."""
    settings = settings_from(config, data_dir)
    owner_url = settings.database.migration_url
    if owner_url is None or data_dir is not None:
        store = open_store(
            settings.model_copy(update={"database": settings.database.model_copy(update={"migrate_on_start": True})})
        )
        typer.echo(f"database schema is current: {store.url}")
        store.close()
        return
    role = settings.database.runtime_role or urlsplit(settings.database.url or "").username
    if not role:
        typer.echo(
            "scutum: database.migration_url needs database.url naming the runtime role (or runtime_role)", err=True
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    store = Store.connect(owner_url.get_secret_value())
    try:
        store.upgrade()
        store.grant_runtime_role(role)
    except ValueError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        store.close()
    typer.echo(f"database schema is current: {store.url}; runtime role {role} granted")


CheckpointsOption = Annotated[
    Path | None,
    typer.Option("--checkpoints", help="Also prove the signed checkpoints in this file (JSON lines).", dir_okay=False),
]
FromClusterOption = Annotated[
    bool, typer.Option("--from-cluster", help="Also prove the checkpoints on the witness ConfigMap.")
]
PublicKeyOption = Annotated[
    list[str] | None,
    typer.Option("--public-key", help="Trust this checkpoint public key (base64 or PEM); repeatable."),
]


ClusterOption = Annotated[str | None, typer.Option("--cluster", help="Verify this cluster's chain in a shared store.")]
AllClustersOption = Annotated[
    bool, typer.Option("--all-clusters", help="Verify every cluster's chain in a shared store, each on its own.")
]


@audit_app.command("verify")
def audit_verify(  # noqa: PLR0917 - typer maps each option to a parameter
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", "-i", help="Verify an exported copy (JSON Lines) instead of the store.", dir_okay=False
        ),
    ] = None,
    checkpoints: CheckpointsOption = None,
    from_cluster: FromClusterOption = False,
    public_keys: PublicKeyOption = None,
    cluster: ClusterOption = None,
    all_clusters: AllClustersOption = False,
) -> None:
    """Exit 0 when the chain is intact (and extends every signed checkpoint given), 1 otherwise.
    A shared store holds one chain per cluster: this cluster's is verified unless `--cluster`
    names another or `--all-clusters` asks for each (reported per cluster)."""
    settings = settings_from(config, data_dir)
    if cluster is not None or all_clusters:
        if input_file is not None or checkpoints is not None or from_cluster:
            typer.echo("scutum: --cluster/--all-clusters verify the store's chains, without checkpoints", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        _verify_clusters(settings, cluster, as_json=as_json)
        return
    published = _published(settings, checkpoints, from_cluster=from_cluster)
    proof: CheckpointReport | None = None
    try:
        if input_file is not None:
            report, records = _verify_export(settings, input_file)
            if published is not None:
                proof = verify_exported(settings, records, published, extra_keys=public_keys or ())
        else:
            store = existing_store(settings)
            try:
                with heap_set_aside():
                    report = audit_log(settings, store).verify()
                if published is not None:
                    proof = verify_published(settings, store, published, extra_keys=public_keys or ())
            finally:
                store.close()
    except CheckpointKeyError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _print_verify(report, proof, as_json=as_json)
    if not report.ok or (proof is not None and not proof.ok):
        raise typer.Exit(EXIT_CHAIN_BROKEN)


def _verify_clusters(settings: Settings, cluster: str | None, *, as_json: bool) -> None:
    """Verify each named cluster's chain on its own; exit 1 when any is broken. A cluster that
    wrote with another HMAC key reports `bad key`: verify it with its own configuration."""
    store = existing_store(settings)
    try:
        names = [cluster] if cluster is not None else store.fleet.clusters() or [store.cluster]
        reports = {name: audit_log(settings, store.for_cluster(name)).verify() for name in names}
    except ValueError as exc:  # a malformed --cluster name
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        store.close()
    if as_json:
        out = {
            name: {**report.__dict__, "problem": report.problem.value if report.problem else None}
            for name, report in reports.items()
        }
        typer.echo(json.dumps({"clusters": out}, sort_keys=True))
    else:
        for name, report in reports.items():
            typer.echo(f"cluster {name}: {report.describe()}", err=not report.ok)
    if not all(report.ok for report in reports.values()):
        raise typer.Exit(EXIT_CHAIN_BROKEN)


def _print_verify(report: VerifyReport, proof: CheckpointReport | None, *, as_json: bool) -> None:
    if as_json:
        out: dict[str, Any] = {**report.__dict__, "problem": report.problem.value if report.problem else None}
        if proof is not None:
            out["checkpoints"] = proof.as_json()
        typer.echo(json.dumps(out, sort_keys=True))
        return
    typer.echo(report.describe(), err=not report.ok)
    if proof is not None:
        typer.echo(proof.describe(), err=not proof.ok)


def _published(settings: Settings, path: Path | None, *, from_cluster: bool) -> list[Checkpoint] | None:
    """The checkpoints to prove (None when none were asked for)."""
    if path is None and not from_cluster:
        return None
    found: list[Checkpoint] = []
    if path is not None:
        try:
            found.extend(read_checkpoint_file(path))
        except OSError as exc:
            typer.echo(f"scutum: cannot read {path}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    if from_cluster:
        found.extend(configmap_witness(settings, kube_from(settings)).read())
    return found


def _verify_export(settings: Settings, path: Path) -> tuple[VerifyReport, list[AuditRecord]]:
    """An exported chain checked offline (records removed from its end cannot be seen: no head)."""
    key = settings.audit.hmac_key.get_secret_value().encode() if settings.audit.hmac_key else None
    try:
        with path.open(encoding="utf-8") as lines:
            records = read_export(lines)
    except OSError as exc:
        typer.echo(f"scutum: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (ValueError, RecursionError) as exc:
        reason = "a line is nested too deep" if isinstance(exc, RecursionError) else str(exc)
        typer.echo(f"scutum: {path}: {reason}", err=True)
        raise typer.Exit(EXIT_CHAIN_BROKEN) from None
    return verify_records(records, key=key), records


@audit_app.command("export")
def audit_export(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Write every audit record as JSON Lines."""
    settings = settings_from(config, data_dir)
    store = existing_store(settings)
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


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Print a new checkpoint signing key (for a Secret) and its public key (to distribute)."""
    private = new_private_key_text()
    signer = CheckpointSigner.from_text(private)
    typer.echo(f"private key (keep it in a Secret): {private}")
    typer.echo(f"public key (give it to verifiers): {public_key_text(signer.public_key)}")
    typer.echo(f"key id: {signer.key_id}")


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
def status(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    all_clusters: Annotated[
        bool, typer.Option("--all-clusters", help="One line per cluster of a shared store.")
    ] = False,
) -> None:
    """The kill switch (who, why, since when), the leader, pending approvals, open incidents
    and each replica's last poll, read from the store; with --all-clusters, one row per cluster
    (leader, open incidents, pending approvals, last decision, chain head)."""
    settings = settings_from(config, data_dir)
    store = open_store(settings)
    try:
        if all_clusters:
            fleet = read_fleet_status(store)
            typer.echo(json.dumps(fleet.as_json(), indent=2) if as_json else "\n".join(fleet.lines()))
            return
        report = read_status(store)
    finally:
        store.close()
    typer.echo(json.dumps(report.as_json(), indent=2) if as_json else "\n".join(report.lines()))


def main() -> None:
    """Console-script entry point `scutum`."""
    app()
