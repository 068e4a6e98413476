"""Wiring: `build_agent(settings)` builds every part once and passes it down.

No part fetches its own dependencies, reads the environment or opens connections in a
constructor; `Agent.start()` is where I/O begins.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from starlette.types import ASGIApp

from actions.base import ActionContext, ActionLimits
from actions.kube import Kube
from agent.audit import AuditKind, AuditLog
from agent.checkpointing import build_checkpointer, start_checkpointing
from agent.control import KillSwitch
from agent.evaluate import Evaluator
from agent.executor import Executor, ExecutorSettings
from agent.intake import Incident, Intake
from agent.keeper import SnapshotKeeper
from agent.leader import LeaderElector, LeaseConfig
from agent.metrics import Metrics
from agent.paging import Page, Pager, PageReason
from agent.paging.notices import ExpiryWarnings, paging_notice, resolved_page
from agent.paging.sender import HttpxTransport
from agent.pipeline import Handled, Notices, Pipeline
from agent.planning.select import build_planner
from agent.reports.gauges import refresh_gauges
from agent.settings import Settings
from agent.store import Store
from agent.undo import request_undo
from agent.witnesses import Checkpointer
from approvals.authz import ApproverPolicy, CachedGroupDirectory
from approvals.channels import AllChannels
from approvals.mattermost import MattermostActions, MattermostChannel
from approvals.model import ApprovalRequest, ApprovalState
from approvals.oncall import CachedOnCall, OnCallDirectory, OpsgenieOnCall, PagerDutyOnCall
from approvals.queue import ApprovalNotifier, ApprovalQueue
from approvals.settings import OnCallSource
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, SlackInteractions
from risk.cache import ClusterCache
from risk.settings import PolicySettings
from risk.sources import ClusterReader

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Store:
    """Connect to the configured store (creating the embedded SQLite's directory) and migrate it
    unless `database.migrate_on_start` is off (an owner role migrates: `scutum db upgrade`)."""
    if not settings.database.url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(settings.database_url(), clock=clock)
    if settings.database.migrate_on_start:
        store.upgrade()
    return store


def audit_log(settings: Settings, store: Store, *, clock: Callable[[], datetime] = utc_now) -> AuditLog:
    """The store's audit chain, keyed (HMAC) when a key is configured."""
    key = settings.audit.hmac_key.get_secret_value().encode() if settings.audit.hmac_key else None
    return AuditLog(store.audit, key=key, clock=clock)


def kube_from(settings: Settings) -> Kube:
    """The Kubernetes adapter the settings describe."""
    if settings.kube.url:
        return Kube.from_url(settings.kube.url)
    if settings.kube.in_cluster:
        return Kube.in_cluster()
    return Kube.from_kubeconfig(
        str(settings.kube.kubeconfig) if settings.kube.kubeconfig else None, context=settings.kube.context
    )


_APPROVAL_KINDS = {
    "approval_requested": AuditKind.APPROVAL_REQUESTED,
    "approval_expired": AuditKind.APPROVAL_EXPIRED,
    "slack_request_rejected": AuditKind.SLACK_REQUEST_REJECTED,
    "mattermost_request_rejected": AuditKind.CHANNEL_REQUEST_REJECTED,
    "mattermost_call_failed": AuditKind.ERROR,
}


def approvals_audit(audit: AuditLog) -> Callable[[str, dict[str, Any]], None]:
    """The approvals layer's audit sink: its events become chain records."""

    def sink(event: str, details: dict[str, Any]) -> None:
        kind = _APPROVAL_KINDS.get(event, AuditKind.APPROVAL_VOTE)
        actor = str(details.get("approver") or details.get("user") or "scutum")
        audit.append(kind, actor=actor, incident_id=details.get("incident_id"), payload={"event": event, **details})

    return sink


@dataclass
class Agent:
    """Every part of a running agent, built once by `build_agent`."""

    settings: Settings
    clock: Callable[[], datetime]
    store: Store
    audit: AuditLog
    kube: Kube
    reader: ClusterReader
    cache: ClusterCache | None
    metrics: Metrics
    kill_switch: KillSwitch
    approvals: ApprovalQueue
    executor: Executor
    pipeline: Pipeline
    keeper: SnapshotKeeper
    leader: LeaderElector | None
    identity: str
    slack: SlackChannel | None = None
    clicks: ClickHandler | None = None
    pager: Pager | None = None
    """PagerDuty/Opsgenie, when a key is configured."""
    mattermost_actions: MattermostActions | None = None
    """Mattermost's button callbacks, when Mattermost is enabled."""
    expiry_warnings: ExpiryWarnings | None = None
    checkpointer: Checkpointer | None = None
    """Signs the chain's head for the witnesses (None without a signing key)."""
    scheduler: BackgroundScheduler = field(default_factory=lambda: BackgroundScheduler(timezone=UTC))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    """One client for the alert source, kept alive across polls."""
    started: bool = False
    """True once the cache has listed everything and the jobs run (what /readyz reports)."""

    @property
    def is_leader(self) -> bool:
        return self.leader is None or self.leader.is_leader

    # --- jobs --------------------------------------------------------------------------

    def poll_once(self) -> list[Handled]:
        """Read the alert source once and run what is new through the pipeline."""
        if not self.is_leader:
            return []
        url = alerts_url(self.settings, self.kube)
        params: dict[str, Any] = {"active": "true", "silenced": "false", "inhibited": "false"}
        filters = [f'{k}="{v}"' for k, v in sorted(self.settings.alertmanager.label_filters.items())]
        if filters:
            params["filter"] = filters
        try:
            response = self.http.get(url, params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.metrics.poll_errors.inc()
            log.warning("alert_poll_failed", url=url, error=str(exc))
            return []
        return self.pipeline.ingest_poll(response.content)

    def sweep_approvals(self) -> list[ApprovalRequest]:
        """Expire requests past their deadline (each escalates through the notifier)."""
        if self.mattermost_actions is not None:  # every replica takes callbacks: not only the leader
            self.mattermost_actions.flush(self.clock())
        if not self.is_leader:
            return []
        now = self.clock()
        expired = self.approvals.expire_due(now)
        pending = self.approvals.repository.list(state=ApprovalState.PENDING)
        self.metrics.queue_depth.set(len(pending))
        if self.expiry_warnings is not None:
            self.expiry_warnings.sweep(pending, now=now)
        return expired

    def dispatch(self) -> None:
        """Leader only: start what another process recorded — requests approved from the CLI or
        on a standby, and executions nobody has claimed. The store's claims keep each to one run."""
        if not self.is_leader:
            return
        approved = self.approvals.repository.list(state=ApprovalState.APPROVED)
        self.executor.forget_dispatched({request.id for request in approved})
        for request in approved:
            self.executor.on_approved(request)
        self.executor.resume_pending()

    def publish_checkpoint(self, *, force: bool = False) -> None:
        """Leader only: sign the chain's head and publish it to the witnesses."""
        if self.checkpointer is not None and self.is_leader:
            self.checkpointer.publish(force=force)

    def refresh_reports(self) -> None:
        """Recompute the calibration and drift gauges of /metrics (agent.reports.gauges)."""
        if self.is_leader:
            refresh_gauges(self.metrics, self.store, now=self.clock())

    def resync_snapshots(self) -> None:
        self.keeper.resync()
        self.keeper.prune()

    def undo(self, request_id: str, user: str) -> str:
        """Slack's Undo button (see `agent.undo.request_undo`); returns the text for the clicker."""
        return request_undo(
            request_id,
            user,
            approvals=self.approvals,
            store=self.store,
            evaluator=self.pipeline.evaluator,
            now=self.clock(),
        )

    # --- lifecycle ---------------------------------------------------------------------

    def slack_http_handler(self) -> Callable[[dict[str, str], bytes, datetime], tuple[int, str]] | None:
        """Slack's HTTP mode (signature and timestamp checked), for `POST /slack/events`."""
        if self.clicks is None or self.settings.slack.mode.value != "http":
            return None
        interactions = SlackInteractions(self.settings.slack, self.clicks, audit=approvals_audit(self.audit))
        return interactions.handle_interaction

    def start(self, *, schedule: bool = True, poll: bool = True) -> None:
        """Start the watch cache, leader election and the scheduled jobs (`poll=False`: the
        caller drives `poll_once` itself, as the demo does)."""
        if self.cache is not None:
            self.cache.start()
        if self.leader is not None:
            self.leader.start()
        self.keeper.resync()
        if self.checkpointer is not None:
            start_checkpointing(self.settings, self.store, self.audit)
        if self.leader is None:
            self.executor.reconcile()  # with leader election, winning the lease reconciles
        if schedule:
            interval = self.settings.alertmanager.poll_interval_seconds
            if poll:
                self.scheduler.add_job(
                    self.poll_once,
                    "interval",
                    seconds=interval,
                    id="poll",
                    max_instances=1,
                    coalesce=True,
                    next_run_time=datetime.now(UTC),
                )
            self.scheduler.add_job(
                self.sweep_approvals, "interval", seconds=5, id="expiry", max_instances=1, coalesce=True
            )
            self.scheduler.add_job(self.dispatch, "interval", seconds=2, id="dispatch", max_instances=1, coalesce=True)
            self.scheduler.add_job(
                self.resync_snapshots, "interval", seconds=10, id="snapshots", max_instances=1, coalesce=True
            )
            if self.checkpointer is not None:
                every = self.settings.audit.checkpoint_interval_seconds
                self.scheduler.add_job(
                    self.publish_checkpoint, "interval", seconds=every, id="checkpoint", max_instances=1, coalesce=True
                )
            self.scheduler.add_job(
                self.refresh_reports, "interval", minutes=15, id="reports", max_instances=1, coalesce=True
            )
            self.scheduler.start()
        self.started = True
        log.info("agent_started", identity=self.identity, store=self.store.url)

    def stop(self) -> None:
        """Graceful shutdown: no new jobs, running actions finish, the lease is released."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.executor.shutdown()
        if self.pager is not None:
            self.pager.close(wait=True)
        self.publish_checkpoint(force=True)  # the last head, while this replica still leads
        if self.leader is not None:
            self.leader.stop()
        if self.cache is not None:
            self.cache.stop()
        self.http.close()
        self.store.close()
        log.info("agent_stopped", identity=self.identity)


ConsoleFactory = Callable[[Agent], ASGIApp]
"""Builds the web console for an agent (`console.wiring.console_for`); passed in from above."""


def alerts_url(settings: Settings, kube: Kube) -> str:
    """Alertmanager's v2 alerts endpoint; without one, the simulated cluster serves it."""
    base = settings.alertmanager.url or kube.host
    return base.rstrip("/") + "/api/v2/alerts"


def build_agent(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    kube: Kube | None = None,
    notifier: ApprovalNotifier | None = None,
    escalate: Callable[[Incident, str], None] | None = None,
    use_cache: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    store: Store | None = None,
    verify_timeout_seconds: float = 120.0,
) -> Agent:
    """Build every part of the agent from settings; nothing runs until `Agent.start()`."""
    identity = settings.agent.identity or socket.gethostname()
    store = store or open_store(settings, clock=clock)
    audit = audit_log(settings, store, clock=clock)
    kube = kube or kube_from(settings)
    cache = ClusterCache(kube) if use_cache else None
    reader: ClusterReader = cache if cache is not None else kube
    metrics = Metrics()
    kill_switch = KillSwitch(store, audit, clock=clock)
    policy = effective_policy(settings)
    limits = action_limits(settings)
    context = ActionContext(kube=kube, clock=clock, snapshots=store.snapshots, limits=limits)
    planner = build_planner(settings.planner, reader=reader, history=store.snapshots)
    evaluator = Evaluator(
        planner,
        reader,
        store.history,
        settings.risk,
        policy,
        snapshots=store.snapshots,
        live=kube,
        limits=limits,
        grants=store.autonomy,
        two_approver_min_risk=settings.approvals.two_approver_min_risk,
    )
    executors: list[Executor] = []  # the queue and the executor need each other: bind late

    def on_approved(request: ApprovalRequest) -> None:
        metrics.approval_latency.observe(max(0.0, (clock() - request.created_at).total_seconds()))
        executors[0].on_approved(request)

    slack = _slack_channel(settings, store, audit)
    pager = _pager(settings, audit, metrics, sleep=sleep)
    mattermost = _mattermost_channel(settings, store, audit)
    groups = None
    if slack is not None:
        groups = CachedGroupDirectory(slack, ttl=timedelta(seconds=settings.approvals.group_cache_seconds), clock=clock)
    approvals = ApprovalQueue(
        store.approvals,
        settings.approvals,
        policy=ApproverPolicy(settings.approvals, groups=groups, on_call=_on_call(settings, clock)),
        audit=approvals_audit(audit),
        notifier=notifier or _notifier(slack, mattermost),
        on_approved=on_approved,
    )

    def on_leadership(leading: bool) -> None:
        metrics.leader.set(1 if leading else 0)
        if leading:  # a new leader settles what a lost one left claimed (on a worker thread)
            executors[0].reconcile_later()

    leader = _leader(settings, kube, identity, clock=clock, on_change=on_leadership)
    intake = Intake()
    executor = Executor(
        store=store,
        audit=audit,
        evaluator=evaluator,
        context=context,
        approvals=approvals,
        metrics=metrics,
        clock=clock,
        identity=identity,
        is_leader=(lambda: leader.is_leader) if leader is not None else (lambda: True),
        is_paused=kill_switch.is_paused,
        on_verified=lambda incident_id: _mark_verified(intake, incident_id, clock),
        settings=ExecutorSettings(
            revalidation_margin=settings.approvals.revalidation_margin,
            verify_timeout_seconds=verify_timeout_seconds,
            verify_interval_seconds=min(1.0, verify_timeout_seconds / 20),
        ),  # (the executor's timing is a test and demo knob, not an operator setting yet)
        sleep=sleep,
    )
    executors.append(executor)
    if leader is None:
        metrics.leader.set(1)  # a single replica always leads
    pipeline = Pipeline(
        intake=intake,
        evaluator=evaluator,
        store=store,
        audit=audit,
        approvals=approvals,
        executor=executor,
        policy=policy,
        metrics=metrics,
        clock=clock,
        notices=_notices(escalate or _escalation_notice(slack), pager, clock),
    )
    keeper = SnapshotKeeper(
        store,
        reader,
        namespaces=settings.agent.managed_namespaces,
        clock=clock,
        retention_count=settings.snapshots.retention_count,
        retention_age_seconds=settings.snapshots.retention_age_seconds,
    )
    agent = Agent(
        settings=settings,
        clock=clock,
        store=store,
        audit=audit,
        kube=kube,
        reader=reader,
        cache=cache,
        metrics=metrics,
        kill_switch=kill_switch,
        approvals=approvals,
        executor=executor,
        pipeline=pipeline,
        keeper=keeper,
        leader=leader,
        identity=identity,
        slack=slack,
        pager=pager,
        mattermost_actions=(
            MattermostActions(
                settings.mattermost, settings.approvals, vote=approvals.vote, audit=approvals_audit(audit)
            )
            if mattermost is not None
            else None
        ),
        expiry_warnings=(
            ExpiryWarnings(pager, warn_before=timedelta(seconds=settings.paging.expiry_warning_seconds))
            if pager is not None
            else None
        ),
        checkpointer=build_checkpointer(settings, store, kube, clock=clock, metrics=metrics),
    )
    if slack is not None:
        agent.clicks = ClickHandler(approvals, slack, on_undo=agent.undo)
    return agent


def _slack_channel(settings: Settings, store: Store, audit: AuditLog) -> SlackChannel | None:
    """Slack when it is enabled: it shows requests and resolves user groups."""
    if not settings.slack.enabled:
        return None
    return SlackChannel(
        settings.slack,
        repository=store.approvals,
        audit=approvals_audit(audit),
        escalation_mention=settings.approvals.escalation_mention,
    )


def _leader(
    settings: Settings,
    kube: Kube,
    identity: str,
    *,
    clock: Callable[[], datetime],
    on_change: Callable[[bool], None],
) -> LeaderElector | None:
    """Leader election on a Lease when enabled; without it this replica always leads."""
    le = settings.leader_election
    if not le.enabled:
        return None
    lease = LeaseConfig(
        le.lease_name,
        le.namespace or settings.agent.namespace,
        identity,
        le.lease_duration_seconds,
        le.renew_deadline_seconds,
        le.retry_period_seconds,
    )
    return LeaderElector(kube, lease, clock=clock, on_change=on_change)


def effective_policy(settings: Settings) -> PolicySettings:
    """The policy section, with the agent's own namespace always among the protected ones."""
    return settings.policy.model_copy(
        update={
            "agent_namespace": settings.agent.namespace,
            "managed_namespaces": tuple(settings.agent.managed_namespaces) or settings.policy.managed_namespaces,
        }
    )


def action_limits(settings: Settings) -> ActionLimits:
    """The actions' caps, with the policy's protected namespaces (a drain never evicts there):
    one value for the executor's context, the daemon's evaluator and `scutum plan`."""
    protected = tuple(sorted(effective_policy(settings).protected))
    return replace(settings.actions.limits(), protected_namespaces=protected)


def _mark_verified(intake: Intake, incident_id: str, clock: Callable[[], datetime]) -> None:
    intake.mark_verified(incident_id, now=clock())


def _escalation_notice(slack: SlackChannel | None) -> Callable[[Incident, str], None]:
    """Escalations are logged, and posted to the approvals channel when Slack is on."""

    def escalate(incident: Incident, reason: str) -> None:
        log.warning("incident_escalated", incident=incident.id, reason=reason)
        if slack is not None:
            target = incident.target
            where = f" on {target.kind} {target.namespace or ''}/{target.name}" if target else ""
            slack.post_notice(f"Escalated: {', '.join(incident.alert_names)}{where}: {reason}")

    return escalate


def _on_call(settings: Settings, clock: Callable[[], datetime]) -> OnCallDirectory | None:
    """The current on-call as approvers, when a schedule source and its key are configured."""
    oncall = settings.approvals.oncall
    if oncall.source is OnCallSource.NONE or oncall.api_key is None:
        return None
    common: dict[str, Any] = {
        "api_key": oncall.api_key.get_secret_value(),
        "schedule_ids": oncall.schedule_ids,
        "identities": oncall.identities,
    }
    if oncall.url:
        common["url"] = oncall.url
    inner: OnCallDirectory
    match oncall.source:
        case OnCallSource.PAGERDUTY:
            inner = PagerDutyOnCall(**common)
        case OnCallSource.OPSGENIE:
            inner = OpsgenieOnCall(**common)
    return CachedOnCall(inner, ttl=timedelta(seconds=oncall.cache_seconds), clock=clock)


def _mattermost_channel(settings: Settings, store: Store, audit: AuditLog) -> MattermostChannel | None:
    """Mattermost when it is enabled: it shows requests with buttons; votes arrive over HTTP."""
    if not settings.mattermost.enabled:
        return None
    return MattermostChannel(settings.mattermost, refs=store.channel_messages, audit=approvals_audit(audit))


def _mattermost_actions(settings: Settings, approvals: ApprovalQueue, audit: AuditLog) -> MattermostActions:
    """Votes from Mattermost buttons, through the same queue as every other channel."""
    return MattermostActions(settings.mattermost, settings.approvals, vote=approvals.vote, audit=approvals_audit(audit))


def _notifier(slack: SlackChannel | None, mattermost: MattermostChannel | None) -> ApprovalNotifier | None:
    """Every configured chat shows every request."""
    channels = [c for c in (slack, mattermost) if c is not None]
    if len(channels) <= 1:
        return channels[0] if channels else None
    return AllChannels(channels)


def _pager(settings: Settings, audit: AuditLog, metrics: Metrics, *, sleep: Callable[[float], None]) -> Pager | None:
    """PagerDuty/Opsgenie when a key is configured; every page's outcome is audited and counted."""
    if not settings.paging.enabled:
        return None

    def record(page: Page, outcome: str, details: dict[str, Any]) -> None:
        payload = {"outcome": outcome, "action": page.action.value, "reason": page.reason.value, **details}
        audit.append(AuditKind.PAGE, actor="scutum", incident_id=page.incident_id, payload=payload)

    return Pager(
        settings.paging,
        transport=HttpxTransport(timeout=settings.paging.timeout_seconds),
        audit=record,
        count=lambda pager, outcome: metrics.pages.labels(pager=pager, outcome=outcome).inc(),
        sleep=sleep,
    )


def _notices(escalate: Callable[[Incident, str], None], pager: Pager | None, clock: Callable[[], datetime]) -> Notices:
    """Escalations and denials told to humans (and paged when a pager is on); resolutions resolve pages."""
    if pager is None:
        return Notices(escalate=escalate)
    return Notices(
        escalate=paging_notice(pager, PageReason.ESCALATED, clock=clock, also=escalate),
        denied=paging_notice(pager, PageReason.DENIED, clock=clock, also=escalate),
        resolved=lambda incident: _send(pager, resolved_page(incident, now=clock())),
    )


def _send(pager: Pager, page: Page) -> None:
    pager.send(page)
