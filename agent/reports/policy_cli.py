"""`scutum policy promote | demote | list`: apply earned autonomy, one audited command at a time.

`promote` applies only what `scutum report autonomy` recommends, re-reading the evidence from
the store at that moment; the promotion covers scores up to the highest the earning streak saw.
`demote` is always allowed (it only takes autonomy away). Each change is a row in the store and
a CONTROL record in the audit chain naming who made it; nothing changes silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from agent.app import audit_log
from agent.audit import AuditKind
from agent.cli import (
    EXIT_BAD_INPUT,
    AsUserOption,
    ConfigOption,
    DataDirOption,
    JsonOption,
    existing_store,
    settings_from,
)
from agent.reports.cli import say
from agent.reports.labels import load_history
from agent.store import Store
from approvals.authz import ApproverPolicy
from approvals.model import VoteChannel
from risk.autonomy import Advice, case_history, case_record, earned_max_risk

policy_app = typer.Typer(help="Earned autonomy: promote or demote one case, audited.", no_args_is_help=True)

ActionOption = Annotated[str, typer.Option("--action", help="The action, e.g. restart_workload.")]
NamespaceOption = Annotated[str, typer.Option("--namespace", help="The namespace ('-' for cluster-scoped).")]
AlertOption = Annotated[str, typer.Option("--alert", help="The alert name.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded with the change).")]


def _namespace(text: str) -> str | None:
    return None if text in ("", "-") else text


def _fail(message: str) -> None:
    typer.echo(f"scutum: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _case_command(*, promote: bool) -> Callable[..., None]:
    """`policy promote` and `policy demote` take the same case and differ only in direction."""

    def command(
        action: ActionOption,
        namespace: NamespaceOption,
        alert: AlertOption,
        as_user: AsUserOption,
        reason: ReasonOption = "",
        config: ConfigOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        _change(
            config, data_dir, promote=promote, case=(action, _namespace(namespace), alert), by=as_user, reason=reason
        )

    return command


policy_app.command(
    "promote",
    help="Let a case whose record earned it execute without approval (up to the risk it was seen at).",
)(_case_command(promote=True))
policy_app.command("demote", help="Send a promoted case back to asking people.")(_case_command(promote=False))


def _change(
    config: Path | None,
    data_dir: Path | None,
    *,
    promote: bool,
    case: tuple[str, str | None, str],
    by: str,
    reason: str,
) -> None:
    settings = settings_from(config, data_dir)
    # Giving up approvals is an approver's decision (demoting is not): the CLI's who-may-approve.
    if promote and ApproverPolicy(settings.approvals).may_vote(by, channel=VoteChannel.CLI) is not None:
        _fail(
            f"{by} is not on the approver lists "
            "(approvals.people, approvals.cli_approvers, approvals.approver_user_ids)"
        )
    store = existing_store(settings)
    try:
        action, namespace, alert = case
        if promote:
            mode, max_risk, evidence, why = "execute", *_earned(store, case)
            # The two-approver band is never earned away: a promotion stops just below it.
            max_risk = min(max_risk, round(settings.approvals.two_approver_min_risk - 0.01, 4))
        else:
            if store.autonomy.grant_for(action, namespace, alert) is None:
                _fail("that case is not promoted; nothing to demote")
            mode, max_risk, evidence, why = "approve", 0.0, [], "demoted"
        now = datetime.now(UTC)
        store.autonomy.record(
            action=action,
            namespace=namespace,
            alert=alert,
            mode=mode,
            max_risk=max_risk,
            changed_by=by,
            reason=reason or why,
            evidence=evidence,
            at=now,
        )
        payload = {
            "action": "promote" if promote else "demote",
            "reason": reason or why,
            "case": {"action": action, "namespace": namespace, "alert": alert},
            "mode": mode,
            "max_risk": max_risk,
            "evidence": evidence,
        }
        audit_log(settings, store).append(AuditKind.CONTROL, actor=by, payload=payload)
    finally:
        store.close()
    where = namespace or "the cluster"
    if promote:
        say(f"promoted by {by}: {action} on {alert} in {where} executes without approval up to risk {max_risk:.2f}")
    else:
        say(f"demoted by {by}: {action} on {alert} in {where} asks for approval again")


def _earned(store: Store, case: tuple[str, str | None, str]) -> tuple[float, list[str], str]:
    action, namespace, alert = case
    history = case_history(load_history(store, since=None), action=action, namespace=namespace, alert=alert)
    if not history:
        _fail("no decisions on that case; nothing has been earned")
    record = case_record(history)
    if record.advice is not Advice.PROMOTE:
        _fail(f"not earned: {record.why} (see scutum report autonomy)")
    return earned_max_risk(history), record.evidence, record.why


@policy_app.command("list")
def policy_list(config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Every promotion and demotion, oldest first, with who made it."""
    store = existing_store(settings_from(config, data_dir))
    try:
        grants = store.autonomy.history()
    finally:
        store.close()
    rows = [
        {
            "at": g.at.isoformat(),
            "by": g.by,
            "action": g.action,
            "namespace": g.namespace,
            "alert": g.alert,
            "mode": g.mode,
            "max_risk": g.max_risk,
            "reason": g.reason,
            "evidence": list(g.evidence),
        }
        for g in grants
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        say(
            f"{row['at']}  {row['by']:<16} {row['mode']:<8} {row['action']} {row['alert']} "
            f"in {row['namespace'] or '-'} (max risk {row['max_risk']:.2f})  {row['reason']}"
        )
