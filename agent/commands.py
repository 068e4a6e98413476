"""The `scutum` commands beyond the foundation's: run, plan, actions, approvals, sim, demo."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from actions.kube import Kube, KubeConfigError, KubeError
from actions.registry import UnknownActionError, catalog, params_schema
from actions.untrusted import clean_text
from agent.app import (
    ConsoleFactory,
    action_limits,
    approvals_audit,
    audit_log,
    build_agent,
    effective_policy,
    kube_from,
    settle_heap,
)
from agent.cli import (
    EXIT_BAD_INPUT,
    AsUserOption,
    ConfigOption,
    DataDirOption,
    JsonOption,
    app,
    existing_store,
    settings_from,
)
from agent.evaluate import Evaluator, NoHistory, Outcome
from agent.http import BodyLimits, HttpServer, PortUnavailable, build_http_app
from agent.intake import Intake
from agent.intake.wire_json import MAX_JSON_BYTES, MalformedInput, load_json
from agent.logs import configure_logging
from agent.planning.select import build_planner
from agent.rate_limit import RateLimiter
from agent.reports.cli import report_app
from agent.reports.policy_cli import policy_app
from agent.settings import LoggingSettings, Settings
from agent.sim_commands import sim_inject, sim_requests
from approvals import cli_channel
from approvals.authz import ApproverPolicy
from approvals.model import ApprovalState
from approvals.queue import ApprovalQueue
from approvals.slack_interactions import connect_socket_mode

log = structlog.get_logger(__name__)

actions_app = typer.Typer(help="The registry of actions.", no_args_is_help=True)
approvals_app = typer.Typer(help="The CLI approval channel.", no_args_is_help=True)
sim_app = typer.Typer(help="The simulated cluster.", no_args_is_help=True)
app.add_typer(actions_app, name="actions")
app.add_typer(approvals_app, name="approvals")
app.add_typer(sim_app, name="sim")
app.add_typer(report_app, name="report")
app.add_typer(policy_app, name="policy")
sim_app.command("inject")(sim_inject)
sim_app.command("requests")(sim_requests)


# --- actions -------------------------------------------------------------------------------


@actions_app.command("list")
def actions_list(as_json: JsonOption = False) -> None:
    """The nine actions: name, summary, params schema, reversibility, scope, permissions."""
    entries = catalog()
    if as_json:
        typer.echo(json.dumps(entries, indent=2, sort_keys=True))
        return
    for entry in entries:
        typer.echo(f"{entry['name']:<20} {entry['reversibility']:<22} {entry['scope']:<9} {entry['summary']}")


@actions_app.command("schema")
def actions_schema(name: Annotated[str, typer.Argument(help="An action name from `scutum actions list`.")]) -> None:
    """The JSON schema of one action's params."""
    try:
        typer.echo(json.dumps(params_schema(name), indent=2, sort_keys=True))
    except UnknownActionError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


# --- plan ----------------------------------------------------------------------------------


@app.command("plan")
def plan(
    alert: Annotated[Path, typer.Option("--alert", help="File with an Alertmanager v2 alert list (JSON).")],
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Cluster to read (default: settings).")
    ] = None,
    config: ConfigOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Judge with the daemon's store in this directory (its snapshots and action history), "
            "as the daemon would.",
            file_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One-shot: alerts → proposal → risk → verdict against a cluster. Executes nothing."""
    settings = settings_from(config, data_dir)
    if kubeconfig is not None:
        settings = settings.model_copy(
            update={"kube": settings.kube.model_copy(update={"kubeconfig": kubeconfig, "url": None})}
        )
    payload = _read_alert_file(alert)
    now = _snapshot_time(payload)
    kube = _kube_or_exit(settings)
    evaluator = _plan_evaluator(settings, kube, with_store=data_dir is not None)
    result = Intake().ingest_poll(payload, now=now)
    objects: list[dict[str, Any]] = []
    try:
        objects.extend(evaluator.evaluate(incident, now=now).as_json() for incident in result.new)
    except KubeError as exc:
        typer.echo(f"scutum: cannot read the cluster at {kube.host}: {exc}", err=True)
        raise typer.Exit(1) from None
    objects.extend(_ignored_json(item.alert.name, item.alert.fingerprint, item.reason.value) for item in result.ignored)
    for rejected in result.rejected:
        typer.echo(f"scutum: skipped a malformed alert: {rejected.reason} ({rejected.excerpt})", err=True)
    if as_json:
        typer.echo(json.dumps(objects, indent=2))
    else:
        for obj in objects:
            typer.echo(_plan_line(obj))
    if result.rejected:
        raise typer.Exit(EXIT_BAD_INPUT)


def _kube_or_exit(settings: Settings) -> Kube:
    """The cluster adapter, or one line on stderr and exit 2 when its configuration is unusable."""
    try:
        return kube_from(settings)
    except KubeConfigError as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _read_alert_file(path: Path) -> Any:
    """The alert file, bounded like a webhook body (size, depth, UTF-8): exit 2 with one line."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            typer.echo(f"scutum: {path} is larger than {MAX_JSON_BYTES} bytes", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        return load_json(path.read_bytes(), what=str(path))
    except OSError as exc:
        typer.echo(f"scutum: cannot read {path}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except MalformedInput as exc:
        typer.echo(f"scutum: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _plan_evaluator(settings: Settings, kube: Kube, *, with_store: bool) -> Evaluator:
    """The daemon's decision path; with the store, also its snapshots and its action history."""
    store = existing_store(settings) if with_store else None
    snapshots = store.snapshots if store is not None else None
    return Evaluator(
        build_planner(settings.planner, reader=kube, history=snapshots),
        kube,
        store.history if store is not None else NoHistory(),
        settings.risk,
        effective_policy(settings),
        snapshots=snapshots,
        limits=action_limits(settings),
    )


def _snapshot_time(alerts: Any) -> datetime:
    """When the alert list was taken: its newest `updatedAt` (else now), so a saved file is
    judged as of its own moment, not as of whenever `plan` runs."""
    try:
        stamps = [datetime.fromisoformat(a["updatedAt"].replace("Z", "+00:00")) for a in alerts if a.get("updatedAt")]
    except (ValueError, TypeError, KeyError, AttributeError):
        stamps = []
    return max(stamps) if stamps else datetime.now(UTC)


def _ignored_json(name: str, fingerprint: str, reason: str) -> dict[str, Any]:
    return {
        "incident": {"id": None, "target": None, "alerts": [name], "fingerprints": [fingerprint]},
        "proposal": None,
        "escalation": None,
        "risk": None,
        "verdict": Outcome.IGNORE.value,
        "reasons": [reason],
    }


def _plan_line(obj: dict[str, Any]) -> str:
    alerts = ",".join(obj["incident"]["alerts"])
    proposal = obj["proposal"]
    what = f"{proposal['action']} {json.dumps(proposal['params'], sort_keys=True)}" if proposal else "-"
    score = f"risk {obj['risk']['score']:.2f}" if obj["risk"] else ""
    return f"{alerts}: {obj['verdict']} {what} {score} — {'; '.join(obj['reasons'])}"


# --- approvals -----------------------------------------------------------------------------


def _queue(config: Path | None, data_dir: Path | None) -> ApprovalQueue:
    settings = settings_from(config, data_dir)
    store = existing_store(settings)
    return ApprovalQueue(
        store.approvals,
        settings.approvals,
        policy=ApproverPolicy(settings.approvals),
        audit=approvals_audit(audit_log(settings, store)),
        relay=store.approvals,  # another cluster's request: handed to its agent (docs/fleet.md)
    )


@approvals_app.command("list")
def approvals_list(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    all_states: Annotated[bool, typer.Option("--all", help="Every request, not only pending ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Requests per page.")] = 100,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page, oldest requests first.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Requests waiting for a decision (or all with --all), a page at a time."""
    store = existing_store(settings_from(config, data_dir))
    try:
        state = None if all_states else ApprovalState.PENDING
        requests = store.approvals.page(state=state, limit=limit + 1, offset=(page - 1) * limit)
    finally:
        store.close()
    rows = [cli_channel.request_row(r) for r in requests[:limit]]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no requests")
    for row in rows:
        line = (
            f"{row['id']}  {row['state']:<9} risk {row['risk']['score']:.2f}  {row['action']} {row['target']}  "
            f"deadline {row['deadline']}  — {row['summary']}"
        )
        typer.echo(clean_text(line, limit=1000))  # summaries carry alert text: no terminal escapes
    if len(requests) > limit:
        typer.echo(f"more on --page {page + 1}")


def _vote(
    approve: bool, request_id: str, *, as_user: str, config: Path | None, data_dir: Path | None, as_json: bool
) -> None:
    queue = _queue(config, data_dir)
    vote = cli_channel.approve if approve else cli_channel.reject
    outcome = vote(queue, request_id, as_user=as_user, now=datetime.now(UTC))
    typer.echo(json.dumps(outcome.as_json(), indent=2) if as_json else outcome.message)
    raise typer.Exit(outcome.exit_code)


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[str, typer.Argument(help="The request ID.")],
    as_user: AsUserOption,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a request, under the same who-may-approve rules as Slack."""
    _vote(True, request_id, as_user=as_user, config=config, data_dir=data_dir, as_json=as_json)


@approvals_app.command("reject")
def approvals_reject(
    request_id: Annotated[str, typer.Argument(help="The request ID.")],
    as_user: AsUserOption,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a request."""
    _vote(False, request_id, as_user=as_user, config=config, data_dir=data_dir, as_json=as_json)


# --- sim -----------------------------------------------------------------------------------


@sim_app.command("serve")
def sim_serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).")] = 0,
    kubeconfig: Annotated[Path, typer.Option("--kubeconfig", help="Where to write its kubeconfig.")] = Path(
        "simcluster.kubeconfig"
    ),
    scenario: Annotated[str | None, typer.Option("--scenario", help="Inject this named fault once.")] = None,
    bare: Annotated[bool, typer.Option("--bare", help="Three Ready nodes and nothing else.")] = False,
    speed: Annotated[float, typer.Option("--speed", help="Simulated seconds per wall second.")] = 1.0,
    alertmanager: Annotated[
        str | None, typer.Option("--alertmanager", help="Push firing alerts to this Alertmanager URL.")
    ] = None,
) -> None:
    """Run the simulated cluster until interrupted (it also serves GET /api/v2/alerts itself)."""
    from simcluster.serve import serve

    serve(port, kubeconfig, scenario=scenario, bare=bare, speed=speed, alertmanager=alertmanager)


# --- demo ----------------------------------------------------------------------------------


@app.command("demo")
def demo(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Approve as the demo on-call user instead of asking.")] = False,
    data_dir: DataDirOption = None,
    console_port: Annotated[
        int, typer.Option("--console-port", help="Serve the web console on this port of 127.0.0.1 (0: none).")
    ] = 8080,
    hold: Annotated[bool, typer.Option("--hold", help="Keep the web console up after the demo, until Ctrl-C.")] = False,
) -> None:
    """Simulated cluster + alerts + agent + console approvals: scripted incidents end to end."""
    from agent.demo import run_demo

    configure_logging(LoggingSettings(level="error"))
    web = _console_factory(ctx) if console_port else None
    code = run_demo(data_dir=data_dir, yes=yes, echo=typer.echo, console=web, console_port=console_port, hold=hold)
    raise typer.Exit(code)


def _console_factory(ctx: typer.Context) -> ConsoleFactory | None:
    """The web console builder the entry point passed down (None when run without it)."""
    obj = ctx.find_root().obj
    return obj.get("console") if isinstance(obj, dict) else None


# --- run -----------------------------------------------------------------------------------


@app.command("run")
def run(ctx: typer.Context, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """The daemon: poll and receive alerts, decide, act or ask, until SIGTERM."""
    settings = settings_from(config, data_dir)
    configure_logging(settings.logging)
    agent = build_agent(settings, kube=_kube_or_exit(settings))
    web = _console_factory(ctx) if settings.console.enabled else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    http_app = build_http_app(
        pipeline=agent.pipeline,
        metrics_text=agent.metrics_text,
        is_leader=lambda: agent.is_leader,
        is_ready=agent.health.ready if agent.health else lambda: agent.started,
        readiness=agent.health.report if agent.health else None,
        clock=agent.clock,
        refusals=agent.refusals,
        slack=agent.slack_http_handler(),
        webhook_enabled=settings.alertmanager.webhook_enabled,
        webhook_token=token.get_secret_value() if (token := settings.alertmanager.webhook_token) else None,
        mattermost=agent.mattermost_actions.handle if agent.mattermost_actions is not None else None,
        console=web(agent) if web is not None else None,
        queue=agent.queue,
        limits=BodyLimits(webhook=settings.http.max_webhook_bytes, slack=settings.http.max_slack_bytes),
        label_filters=settings.alertmanager.label_filters,
        split=agent.triage.split if agent.triage is not None else None,
        rate_limit=RateLimiter(rate=(rate := settings.http.rate_limit_per_source), burst=10 * rate),
    )
    server = HttpServer(http_app, host=settings.http.host, port=settings.http.port)
    try:
        server.start()
    except PortUnavailable as exc:
        log.error("http_port_unavailable", error=str(exc))
        typer.echo(f"scutum: {exc}", err=True)
        agent.stop()
        raise typer.Exit(1) from None
    agent.start()
    settle_heap()
    close_socket = None
    if agent.clicks is not None and agent.slack is not None and settings.slack.mode.value == "socket":
        close_socket = connect_socket_mode(
            settings.slack, agent.clicks, agent.slack, clock=agent.clock, submit=agent.submit_click
        )
    stop.wait()
    if close_socket is not None:
        close_socket()
    server.stop()
    if not agent.stop():
        # A worker is stuck in a call past the shutdown budget: end the process rather than
        # wait for it; its run stays claimed and the next leader recovers it from its intents.
        sys.stdout.flush()
        os._exit(0)


def main(*, console: ConsoleFactory | None = None) -> None:
    """Entry point: every command group registered; `console` builds the web console
    (`console.cli.main` passes it, since the console package sits above this one)."""
    app(obj={"console": console})
