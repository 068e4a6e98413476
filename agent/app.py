"""Wiring: `build_agent(settings)` builds every part once and passes it down.

No part fetches its own dependencies, reads the environment or opens connections in a
constructor; `Agent.start()` is where I/O begins.
"""

from __future__ import annotations

import ctypes
import gc
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from starlette.types import ASGIApp

from actions.base import ActionContext, ActionLimits
from actions.kube import Kube
from agent.audit import AuditKind, AuditLog
from agent.checkpointing import build_checkpointer, start_checkpointing
from agent.control import KillSwitch
from agent.edge import build_edge, escalation_notice, refusal_audit
from agent.evaluate import Evaluator
from agent.executor import Executor, ExecutorSettings
from agent.failures import FailureReporter
from agent.health import HealthMonitor, PollBackoff
from agent.intake import Incident, Intake
from agent.intake.alerts import apply_filters, parse_gettable_alerts
from agent.keeper import SnapshotKeeper
from agent.leader import LeaderElector, LeaseConfig
from agent.lifecycle import IncidentLifecycle
from agent.metrics import Metrics
from agent.notice_budget import NoticeBudget
from agent.owner_steps import resume_expired_owners
from agent.owner_watch import OwnerWatch
from agent.paging import Page, PageAction, Pager, PageReason
from agent.paging.notices import ExpiryWarnings, paging_notice, resolved_page
from agent.paging.sender import HttpxTransport
from agent.pipeline import Handled, Notices, Pipeline
from agent.planning.select import build_planner
from agent.refusals import RefusalLog
from agent.reports.gauges import refresh_gauges
from agent.settings import Settings
from agent.store import Execution, Store
from agent.triage import TargetTriage
from agent.undo import request_undo
from agent.witnesses import Checkpointer
from agent.work import DecisionQueue, Lane
from approvals.authz import ApproverPolicy, CachedGroupDirectory
from approvals.channels import AllChannels
from approvals.mattermost import MattermostActions, MattermostChannel
from approvals.model import ApprovalRequest, ApprovalState
from approvals.oncall import CachedOnCall, OnCallDirectory, OpsgenieOnCall, PagerDutyOnCall
from approvals.queue import ApprovalEvent, ApprovalNotifier, ApprovalQueue
from approvals.settings import OnCallSource
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, SlackInteractions
from risk.cache import ClusterCache
from risk.settings import PolicySettings
from risk.sources import ClusterReader, RecheckReader

log = structlog.get_logger(__name__)

HEALTH_INTERVAL_SECONDS = 5.0
"""How often the readiness checks run."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreMissing(Exception):
    """A read-only command was pointed at an embedded store that does not exist."""


def open_store(settings: Settings, *, clock: Callable[[], datetime] = utc_now, create: bool = True) -> Store:
    """Connect to the configured store (creating the embedded SQLite's directory) and migrate it
    unless `database.migrate_on_start` is off (an owner role migrates: `scutum db upgrade`).

    `create=False` (read-only commands): StoreMissing rather than a new, empty store, so a
    mistyped --data-dir is an error instead of a clean bill of health."""
    if not settings.database.url:
        database = settings.data_dir / "scutum.db"
        if not create and not database.is_file():
            raise StoreMissing(f"no store at {database} (check --data-dir, or create it with `scutum db upgrade`)")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.connect(
        settings.database_url(),
        clock=clock,
        connect_timeout=settings.database.connect_timeout_seconds,
        statement_timeout=settings.database.statement_timeout_seconds,
        cluster=settings.agent.cluster,
    )
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
    ApprovalEvent.REQUESTED.value: AuditKind.APPROVAL_REQUESTED,
    ApprovalEvent.EXPIRED.value: AuditKind.APPROVAL_EXPIRED,
    "slack_request_rejected": AuditKind.SLACK_REQUEST_REJECTED,
    "mattermost_request_rejected": AuditKind.CHANNEL_REQUEST_REJECTED,
    "mattermost_call_failed": AuditKind.ERROR,
}


def approvals_audit(audit: AuditLog, metrics: Metrics | None = None) -> Callable[[str, dict[str, Any]], None]:
    """The approvals layer's audit sink: its events become chain records (and an approval's
    wait, the approval-latency metric)."""

    def sink(event: str, details: dict[str, Any]) -> None:
        if metrics is not None and event == ApprovalEvent.APPROVED and "waited_seconds" in details:
            metrics.approval_latency.observe(float(details["waited_seconds"]))
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
    lifecycle: IncidentLifecycle
    keeper: SnapshotKeeper
    leader: LeaderElector | None
    identity: str
    refusals: RefusalLog
    queue: DecisionQueue
    """The one bounded decision queue: webhook batches and Slack clicks are decided here."""
    triage: TargetTriage | None = None
    slack: SlackChannel | None = None
    clicks: ClickHandler | None = None
    pager: Pager | None = None
    """PagerDuty/Opsgenie, when a key is configured."""
    mattermost_actions: MattermostActions | None = None
    """Mattermost's button callbacks, when Mattermost is enabled."""
    expiry_warnings: ExpiryWarnings | None = None
    checkpointer: Checkpointer | None = None
    """Signs the chain's head for the witnesses (None without a signing key)."""
    owner_watch: OwnerWatch | None = None
    """Watches fixed targets that another controller manages for that owner reverting the fix."""
    scheduler: BackgroundScheduler = field(default_factory=lambda: BackgroundScheduler(timezone=UTC))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))
    """One client for the alert source, kept alive across polls."""
    started: bool = False
    """True once the cache has listed everything and the jobs run (what /readyz reports)."""
    leading: bool = False
    """Whether this replica led at the last look (`take_over` acts when it starts leading)."""
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

    def take_over(self) -> bool:
        """When this replica has just become the leader: settle what a lost leader left claimed
        (on a worker thread) and continue the incidents the store holds open. True if it leads."""
        leading = self.is_leader
        if leading and not self.leading:
            self.executor.reconcile_later()
            self.lifecycle.rebuild()
            log.info("leadership_taken_over", identity=self.identity)
        self.leading = leading
        return leading

    def poll_once(self) -> list[Handled]:
        """Read the alert source once and run what is new through the pipeline; the result is
        reported to the store (`scutum status`). After failures (alert source or store) the next
        polls back off exponentially, with jitter."""
        backoff = self.poll_backoff
        assert backoff is not None
        if not backoff.due():
            return []
        try:
            leading = self.take_over()
        except Exception:  # task boundary: the store may be down; the next poll retries
            log.exception("take_over_failed")
            backoff.failed()
            return []
        if not leading:
            self._report(leading=False)
            return []
        try:
            self.lifecycle.resume_held()
        except Exception:  # task boundary: the store may be down; the next poll retries
            log.exception("resume_held_failed")
        url = alerts_url(self.settings, self.kube)
        params: dict[str, Any] = {"active": "true", "silenced": "false", "inhibited": "false"}
        label_filters = self.settings.alertmanager.label_filters
        filters = [f'{k}="{v}"' for k, v in sorted(label_filters.items())]
        if filters:
            params["filter"] = filters
        try:
            response = self.http.get(url, params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.metrics.poll_errors.inc()
            log.warning("alert_poll_failed", url=url, error=str(exc), retry_in=round(backoff.failed(), 1))
            self._report(leading=True, poll_ok=False, detail=f"alert source: {exc}")
            return []
        # The filter is applied here too: a source that ignores the query parameter must not widen intake.
        batch = apply_filters(parse_gettable_alerts(response.content), label_filters)
        try:
            handled = self.pipeline.ingest_parsed(batch, complete=True)
        except Exception as exc:  # task boundary: the store may be down; the next poll retries
            self.metrics.poll_errors.inc()
            self.metrics.store_errors.inc()
            log.exception("alert_poll_not_processed", error=str(exc), retry_in=round(backoff.failed(), 1))
            self._report(leading=True, poll_ok=False, detail=f"not processed: {exc}")
            return []
        backoff.succeeded()
        undecided = len(self.pipeline.intake.undecided())
        detail = f"{len(handled)} decided" + (f", {undecided} waiting to be decided again" if undecided else "")
        self._report(leading=True, poll_ok=undecided == 0, detail=detail)
        return handled

    def _report(self, *, leading: bool, poll_ok: bool | None = None, detail: str = "") -> None:
        try:
            self.store.replicas.report(
                self.identity, leading=leading, at=self.clock(), poll_ok=poll_ok, poll_detail=detail
            )
        except Exception:  # task boundary: the store is down; the next poll reports again
            log.exception("replica_report_failed", identity=self.identity)

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
        """Leader only: start what the store holds — every approved request (from Slack, the CLI
        or a standby: the queue calls nobody), executions nobody has claimed — and settle
        incidents whose work finished. The store's claims keep each to one run."""
        if not self.take_over():
            return
        self.take_relayed_votes()
        approved = self.approvals.repository.list(state=ApprovalState.APPROVED)
        self.executor.forget_dispatched({request.id for request in approved})
        for request in approved:
            self.executor.on_approved(request)
        self.executor.resume_pending()
        self.executor.recover_own()
        self.lifecycle.settle_all()

    def take_relayed_votes(self) -> int:
        """Leader only (from `dispatch`): cast the votes other clusters' agents received for this
        cluster's requests (one Slack app may serve a fleet), through this cluster's own
        authorisation, expiry and audit; the receiver never touched the request. Returns how many."""
        relayed = self.store.approvals.relayed_votes()
        for item in relayed:
            vote = item.vote
            self.audit.append(
                AuditKind.APPROVAL_VOTE,
                actor=vote.approver,
                payload={
                    "event": "approval_vote_relay_taken",
                    "request_id": item.request_id,
                    "received_by": item.received_by,
                    "decision": vote.decision.value,
                    "channel": vote.channel.value,
                },
            )
            self.approvals.vote(item.request_id, vote.approver, vote.decision, channel=vote.channel, now=vote.at)
            self.store.approvals.forget_relayed_vote(item.id)
        return len(relayed)

    def publish_checkpoint(self, *, force: bool = False) -> None:
        """Leader only: sign the chain's head and publish it to the witnesses."""
        if self.checkpointer is not None and self.is_leader:
            self.checkpointer.publish(force=force)

    def refresh_reports(self) -> None:
        """Recompute the calibration and drift gauges of /metrics (agent.reports.gauges)."""
        if self.is_leader:
            refresh_gauges(self.metrics, self.store, now=self.clock())

    def resume_owners(self) -> list[str]:
        """Leader only: restore GitOps owners whose `pause-then-act` pause has run out."""
        if not self.is_leader:
            return []
        context = ActionContext(kube=self.kube, clock=self.clock, limits=action_limits(self.settings))
        return resume_expired_owners(context, audit=self.audit, identity=self.identity)

    def watch_owners(self) -> list[str]:
        """Leader only: the runs whose fix the target's owner reverted since the last pass."""
        if self.owner_watch is None or not self.is_leader:
            return []
        return self.owner_watch.check()

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

    def slack_http_handler(self) -> SlackInteractions | None:
        """Slack's HTTP mode (signature and timestamp checked), for `POST /slack/events`."""
        if self.clicks is None or self.settings.slack.mode.value != "http":
            return None
        return SlackInteractions(
            self.settings.slack, self.clicks, audit=approvals_audit(self.audit), noise=refusal_audit(self.refusals)
        )

    def metrics_text(self) -> bytes:
        """/metrics: the registry, with the decision queue's depth per lane read now."""
        for lane in Lane:
            self.metrics.decision_queue.labels(lane=lane.value).set(self.queue.depth(lane))
        return self.metrics.render()

    def submit_click(self, job: Callable[[], None]) -> bool:
        """Hand a Socket Mode click to the decision queue (False when it is full)."""
        return self.queue.offer(Lane.CLICKS, job, label="slack click")

    def start(self, *, schedule: bool = True, poll: bool = True) -> None:
        """Start the watch cache, leader election and the scheduled jobs (`poll=False`: the
        caller drives `poll_once` itself, as the demo does)."""
        if self.cache is not None:
            self.cache.start()
        self.queue.start()
        if self.leader is not None:
            self.leader.start()
        self.keeper.resync()
        if self.checkpointer is not None:
            start_checkpointing(self.settings, self.store, self.audit)
        self.lifecycle.rebuild()
        if self.leader is None:
            self.executor.reconcile()  # with leader election, winning the lease reconciles
            self.leading = True
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
                self.refusals.flush, "interval", seconds=10, id="refusals", max_instances=1, coalesce=True
            )
            self.scheduler.add_job(
                self.resync_snapshots, "interval", seconds=10, id="snapshots", max_instances=1, coalesce=True
            )
            self.scheduler.add_job(
                self.resume_owners, "interval", seconds=30, id="owners", max_instances=1, coalesce=True
            )
            self.scheduler.add_job(
                self.watch_owners, "interval", seconds=15, id="owner-watch", max_instances=1, coalesce=True
            )
            if self.checkpointer is not None:
                every = self.settings.audit.checkpoint_interval_seconds
                self.scheduler.add_job(
                    self.publish_checkpoint, "interval", seconds=every, id="checkpoint", max_instances=1, coalesce=True
                )
            self.scheduler.add_job(
                self.refresh_reports, "interval", minutes=15, id="reports", max_instances=1, coalesce=True
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
        self.queue.stop()
        self.refusals.flush(force=True)
        budget = self.settings.agent.shutdown_budget_seconds
        released_early = self.leader is not None and not self.executor.writing
        if self.leader is not None and released_early:
            self.publish_checkpoint(force=True)  # the last head, while this replica still leads
            self.leader.stop()  # a standby may take over now: nothing of ours is on the wire
        clean = self.executor.stop(budget_seconds=budget)
        if self.leader is None or not released_early:
            self.publish_checkpoint(force=True)
        if self.leader is not None and not released_early:
            self.leader.stop(release=clean)  # a write still on the wire: let the Lease expire instead
        if self.pager is not None:
            self.pager.close(wait=True)
        if self.cache is not None:
            self.cache.stop()
        self.http.close()
        self.store.close()
        log.info("agent_stopped", identity=self.identity, clean=clean)
        return clean

    def _job_failed(self, event: JobExecutionEvent) -> None:
        self.metrics.job_errors.labels(job=str(event.job_id)).inc()


ConsoleFactory = Callable[[Agent], ASGIApp]
"""Builds the web console for an agent (`console.wiring.console_for`); passed in from above."""


def settle_heap() -> None:
    """Freeze what start-up built (modules, settings, the watch cache's first lists): it lives as
    long as the process, and frozen it is no longer rescanned by every full garbage collection,
    which would otherwise stall a decision or a console page for 100 ms and more. For the daemon's
    process (`scutum run`), not for a process that builds many agents (tests). Then the memory
    start-up freed (the first lists' JSON) is handed back to the system where the C library can
    (glibc's `malloc_trim`), so it does not stay resident as free heap."""
    gc.collect()
    gc.freeze()
    _trim_malloc()


def _trim_malloc() -> None:
    """glibc's `malloc_trim(0)`; nothing on a C library without it."""
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols, the C library's among them
    except (OSError, AttributeError):
        return
    trim(0)


@contextmanager
def heap_set_aside() -> Iterator[None]:
    """For a one-shot command's long pass (`audit verify` over a million records): what is
    loaded so far is left out of garbage collection while the block runs, so the collections
    that a stream of short-lived rows triggers do not rescan the modules each time. Undone after,
    so a process that runs many commands (tests) keeps its usual collector."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
        live=RecheckReader(kube, cache) if cache is not None else kube,
        limits=limits,
        grants=store.autonomy,
        two_approver_min_risk=settings.approvals.two_approver_min_risk,
    )
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
        audit=approvals_audit(audit, metrics),
        notifier=notifier or _notifier(slack, mattermost),
        relay=store.approvals,  # a shared Slack app or Mattermost team: another cluster's request
    )
    intake = Intake(cluster=store.cluster)
    lifecycle = IncidentLifecycle(store, intake, clock=clock)
    # Winning the lease only sets the gauge; the next poll or dispatch takes over (`take_over`).
    leader = _leader(settings, kube, identity, clock=clock, on_change=lambda leading: metrics.leader.set(int(leading)))
    failures = FailureReporter(store, audit, metrics, actor=identity, notify=_failure_notice(slack, pager, clock))
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
        on_verified=lifecycle.verified,
        settings=ExecutorSettings(
            revalidation_margin=settings.approvals.revalidation_margin,
            verify_timeout_seconds=verify_timeout_seconds,
            verify_interval_seconds=min(1.0, verify_timeout_seconds / 20),
        ),  # (the executor's timing is a test and demo knob, not an operator setting yet)
        sleep=sleep,
        failures=failures,
    )
    if leader is None:
        metrics.leader.set(1)  # a single replica always leads
    pipeline = Pipeline(
        intake=intake,
        lifecycle=lifecycle,
        evaluator=evaluator,
        store=store,
        audit=audit,
        approvals=approvals,
        executor=executor,
        policy=policy,
        metrics=metrics,
        clock=clock,
        notices=_notices(escalate or escalation_notice(slack, NoticeBudget(clock=clock)), pager, clock),
    )
    keeper = SnapshotKeeper(
        store,
        reader,
        namespaces=settings.agent.managed_namespaces,
        clock=clock,
        retention_count=settings.snapshots.retention_count,
        retention_age_seconds=settings.snapshots.retention_age_seconds,
    )
    edge = build_edge(settings, audit=audit, metrics=metrics, clock=clock, cache=cache)
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
        lifecycle=lifecycle,
        keeper=keeper,
        leader=leader,
        identity=identity,
        refusals=edge.refusals,
        queue=edge.queue,
        triage=edge.triage,
        slack=slack,
        pager=pager,
        mattermost_actions=(
            MattermostActions(settings.mattermost, vote=approvals.vote, audit=approvals_audit(audit))
            if mattermost is not None
            else None
        ),
        expiry_warnings=(
            ExpiryWarnings(pager, warn_before=timedelta(seconds=settings.paging.expiry_warning_seconds))
            if pager is not None
            else None
        ),
        checkpointer=build_checkpointer(settings, store, kube, clock=clock, metrics=metrics),
        clicks=_click_handler(
            approvals,
            slack,
            store=store,
            evaluator=evaluator,
            clock=clock,
            policy=ApproverPolicy(settings.approvals, groups=groups),
            audit=approvals_audit(audit),
        ),
        owner_watch=OwnerWatch(
            context,
            store,
            audit,
            identity,
            clock,
            window=timedelta(seconds=settings.owners.watch_seconds),
            notify=_failure_notice(slack, pager, clock),
        ),
    )
    return agent


def _click_handler(
    approvals: ApprovalQueue,
    slack: SlackChannel | None,
    *,
    store: Store,
    evaluator: Evaluator,
    clock: Callable[[], datetime],
    policy: ApproverPolicy,
    audit: Callable[[str, dict[str, Any]], None],
) -> ClickHandler | None:
    """Slack's button handler (Approve, Reject, Undo, the last with an approver's authority) when Slack is on."""
    if slack is None:
        return None

    def undo(request_id: str, user: str) -> str:
        return request_undo(request_id, user, approvals=approvals, store=store, evaluator=evaluator, now=clock())

    return ClickHandler(approvals, slack, on_undo=undo, policy=policy, audit=audit)


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
    return replace(settings.actions.limits(), protected_namespaces=protected, owner_policies=settings.owners.policies())


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


def _failure_notice(
    slack: SlackChannel | None, pager: Pager | None, clock: Callable[[], datetime]
) -> Callable[[Execution, str], None]:
    """A failed run's escalation: posted to the approvals channel when Slack is on, and paged
    (under its incident's dedup key) when a pager is; always logged."""

    def notify(execution: Execution, text: str) -> None:
        if slack is not None:
            slack.post_notice(text)
        if pager is not None:
            target = f"{execution.target_kind} {execution.target_namespace or ''}/{execution.target_name}"
            page = Page(
                incident_id=execution.incident_id or execution.id,
                action=PageAction.TRIGGER,
                reason=PageReason.FAILED,
                summary=f"Scutum {text}",
                at=clock(),
                namespace=execution.target_namespace,
                target=target,
                details={"execution": execution.id, "action": execution.action},
            )
            pager.send(page)

    return notify


def _mattermost_channel(settings: Settings, store: Store, audit: AuditLog) -> MattermostChannel | None:
    """Mattermost when it is enabled: it shows requests with buttons; votes arrive over HTTP."""
    if not settings.mattermost.enabled:
        return None
    return MattermostChannel(settings.mattermost, refs=store.channel_messages, audit=approvals_audit(audit))


def _mattermost_actions(settings: Settings, approvals: ApprovalQueue, audit: AuditLog) -> MattermostActions:
    """Votes from Mattermost buttons, through the same queue as every other channel."""
    return MattermostActions(settings.mattermost, vote=approvals.vote, audit=approvals_audit(audit))


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
