"""Wiring: `build_agent(settings)` builds every part once and passes it down.

No part fetches its own dependencies, reads the environment or opens connections in a
constructor; `Agent.start()` is where I/O begins.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from actions.base import ActionContext
from actions.kube import Kube
from agent.audit import AuditKind, AuditLog
from agent.control import KillSwitch
from agent.evaluate import Evaluator
from agent.executor import Executor, ExecutorSettings
from agent.failures import FailureReporter
from agent.health import HealthMonitor, PollBackoff
from agent.intake import Incident, Intake
from agent.keeper import SnapshotKeeper
from agent.leader import LeaderElector, LeaseConfig
from agent.metrics import Metrics
from agent.pipeline import Handled, Notices, Pipeline
from agent.planning.select import build_planner
from agent.settings import Settings
from agent.store import Store
from agent.undo import request_undo
from approvals.authz import ApproverPolicy, CachedGroupDirectory
from approvals.model import ApprovalRequest, ApprovalState
from approvals.queue import ApprovalNotifier, ApprovalQueue
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, SlackInteractions
from risk.cache import ClusterCache
from risk.settings import PolicySettings
from risk.sources import ClusterReader

log = structlog.get_logger(__name__)

HEALTH_INTERVAL_SECONDS = 5.0
"""How often the readiness checks run."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Store:
    """Connect to the configured store (creating the embedded SQLite's directory) and migrate it."""
    if not settings.database.url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(
        settings.database_url(),
        clock=clock,
        connect_timeout=settings.database.connect_timeout_seconds,
        statement_timeout=settings.database.statement_timeout_seconds,
    )
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
    scheduler: BackgroundScheduler = field(default_factory=lambda: BackgroundScheduler(timezone=UTC))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    """One client for the alert source, kept alive across polls."""
    started: bool = False
    """True once the cache has listed everything and the jobs run (what /readyz reports)."""
    health: HealthMonitor | None = None
    """Readiness checks (store, API server, scheduler), run by the scheduler; see /readyz."""
    poll_backoff: PollBackoff | None = None
    """Exponential backoff with jitter after failed polls."""

    def __post_init__(self) -> None:
        interval = self.settings.alertmanager.poll_interval_seconds
        self.poll_backoff = self.poll_backoff or PollBackoff(
            interval, self.settings.alertmanager.poll_max_backoff_seconds
        )
        checks = {"started": self._check_started, "store": self.store.ping, "api_server": self._check_api}
        checks["scheduler"] = self._check_scheduler
        self.health = self.health or HealthMonitor(checks, max_age_seconds=max(30.0, 3 * HEALTH_INTERVAL_SECONDS))

    def _check_started(self) -> None:
        if not self.started:
            raise RuntimeError("starting")

    def _check_api(self) -> None:
        self.kube.read("/version")

    def _check_scheduler(self) -> None:
        if not self.scheduler.running:
            raise RuntimeError("the scheduler is not running")

    @property
    def is_leader(self) -> bool:
        return self.leader is None or self.leader.is_leader

    # --- jobs --------------------------------------------------------------------------

    def poll_once(self) -> list[Handled]:
        """Read the alert source once and run what is new through the pipeline; after failures
        (alert source or store) the next polls back off exponentially, with jitter."""
        backoff = self.poll_backoff
        assert backoff is not None
        if not self.is_leader or not backoff.due():
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
            log.warning("alert_poll_failed", url=url, error=str(exc), retry_in=round(backoff.failed(), 1))
            return []
        try:
            handled = self.pipeline.ingest_poll(response.content)
        except Exception as exc:
            self.metrics.poll_errors.inc()
            self.metrics.store_errors.inc()
            log.exception("alert_poll_not_processed", error=str(exc), retry_in=round(backoff.failed(), 1))
            return []
        backoff.succeeded()
        return handled

    def sweep_approvals(self) -> list[ApprovalRequest]:
        """Expire requests past their deadline (each escalates through the notifier)."""
        if not self.is_leader:
            return []
        expired = self.approvals.expire_due(self.clock())
        self.metrics.queue_depth.set(len(self.approvals.repository.list(state=ApprovalState.PENDING)))
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
            if self.health is not None:
                self.scheduler.add_job(
                    self.health.check,
                    "interval",
                    seconds=HEALTH_INTERVAL_SECONDS,
                    id="health",
                    max_instances=1,
                    coalesce=True,
                    next_run_time=datetime.now(UTC),
                )
            self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
            self.scheduler.start()
        self.started = True
        log.info("agent_started", identity=self.identity, store=self.store.url)

    def stop(self) -> bool:
        """Bounded shutdown: no new jobs or runs; the Lease is released at once unless a write is
        in flight; in-flight writes get `agent.shutdown_budget_seconds`, waits and verifications
        stop at once; what was interrupted stays claimed for the next leader to recover. False when
        a worker is still busy after the budget (the caller then ends the process)."""
        self.started = False
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        budget = self.settings.agent.shutdown_budget_seconds
        released_early = self.leader is not None and not self.executor.writing
        if self.leader is not None and released_early:
            self.leader.stop()  # a standby may take over now: nothing of ours is on the wire
        clean = self.executor.stop(budget_seconds=budget)
        if self.leader is not None and not released_early:
            self.leader.stop(release=clean)  # a write still on the wire: let the Lease expire instead
        if self.cache is not None:
            self.cache.stop()
        self.http.close()
        self.store.close()
        log.info("agent_stopped", identity=self.identity, clean=clean)
        return clean

    def _job_failed(self, event: JobExecutionEvent) -> None:
        self.metrics.job_errors.labels(job=str(event.job_id)).inc()


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
    context = ActionContext(kube=kube, clock=clock, snapshots=store.snapshots, limits=settings.actions.limits())
    planner = build_planner(settings.planner, reader=reader, history=store.snapshots)
    policy = effective_policy(settings)
    evaluator = Evaluator(planner, reader, store.history, settings.risk, policy, snapshots=store.snapshots, live=kube)
    executors: list[Executor] = []  # the queue and the executor need each other: bind late

    def on_approved(request: ApprovalRequest) -> None:
        metrics.approval_latency.observe(max(0.0, (clock() - request.created_at).total_seconds()))
        executors[0].on_approved(request)

    slack = _slack_channel(settings, store, audit)
    groups = None
    if slack is not None:
        groups = CachedGroupDirectory(slack, ttl=timedelta(seconds=settings.approvals.group_cache_seconds), clock=clock)
    approvals = ApprovalQueue(
        store.approvals,
        settings.approvals,
        policy=ApproverPolicy(settings.approvals, groups=groups),
        audit=approvals_audit(audit),
        notifier=notifier or slack,
        on_approved=on_approved,
    )

    def on_leadership(leading: bool) -> None:
        metrics.leader.set(1 if leading else 0)
        if leading:  # a new leader settles what a lost one left claimed (on a worker thread)
            executors[0].reconcile_later()

    leader = _leader(settings, kube, identity, clock=clock, on_change=on_leadership)
    intake = Intake()
    failures = FailureReporter(store, audit, metrics, actor=identity, notify=_failure_notice(slack))
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
        failures=failures,
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
        notices=Notices(escalate=escalate or _escalation_notice(slack)),
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


def _mark_verified(intake: Intake, incident_id: str, clock: Callable[[], datetime]) -> None:
    intake.mark_verified(incident_id, now=clock())


def _failure_notice(slack: SlackChannel | None) -> Callable[[str], None]:
    """A failed run's escalation: posted to the approvals channel when Slack is on (always logged)."""

    def notify(text: str) -> None:
        if slack is not None:
            slack.post_notice(text)

    return notify


def _escalation_notice(slack: SlackChannel | None) -> Callable[[Incident, str], None]:
    """Escalations are logged, and posted to the approvals channel when Slack is on."""

    def escalate(incident: Incident, reason: str) -> None:
        log.warning("incident_escalated", incident=incident.id, reason=reason)
        if slack is not None:
            target = incident.target
            where = f" on {target.kind} {target.namespace or ''}/{target.name}" if target else ""
            slack.post_notice(f"Escalated: {', '.join(incident.alert_names)}{where}: {reason}")

    return escalate
