"""Prometheus metrics, on a registry of the agent's own (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    """Every metric the agent exports at /metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.alerts = Counter("scutum_alerts_total", "Alerts received, by outcome.", ["outcome"], registry=r)
        self.incidents = Counter("scutum_incidents_total", "Incidents opened.", registry=r)
        self.verdicts = Counter("scutum_verdicts_total", "Verdicts, by verdict.", ["verdict"], registry=r)
        self.actions = Counter(
            "scutum_actions_total", "Executed actions, by action and outcome.", ["action", "outcome"], registry=r
        )
        self.approval_latency = Histogram(
            "scutum_approval_latency_seconds",
            "Time from an approval request to its decision.",
            buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800),
            registry=r,
        )
        self.risk = Histogram(
            "scutum_risk_score",
            "Risk totals of scored proposals.",
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
            registry=r,
        )
        self.queue_depth = Gauge("scutum_approval_queue_depth", "Approval requests pending.", registry=r)
        self.poll_errors = Counter("scutum_poll_errors_total", "Failed Alertmanager polls.", registry=r)
        self.pages = Counter(
            "scutum_pages_total", "Pages to PagerDuty/Opsgenie, by pager and outcome.", ["pager", "outcome"], registry=r
        )
        self.checkpoints = Counter(
            "scutum_checkpoints_total",
            "Signed checkpoints handed to a witness, by witness and outcome (published, failed).",
            ["witness", "outcome"],
            registry=r,
        )
        self.leader = Gauge("scutum_leader", "1 while this replica holds the lease.", registry=r)
        self.drift = Gauge(
            "scutum_drift_signal", "1 while a drift signal fires (docs/research.md).", ["signal"], registry=r
        )
        self.drift_statistic = Gauge(
            "scutum_drift_statistic", "Each drift signal's statistic (ratio or p-value).", ["signal"], registry=r
        )
        self.bad_outcome_rate = Gauge(
            "scutum_bad_outcome_rate",
            "Observed bad-outcome rate of executed actions, by risk band.",
            ["band"],
            registry=r,
        )
        self.brier = Gauge("scutum_calibration_brier_score", "Brier score of the risk score vs outcomes.", registry=r)
        self.decision_queue = Gauge(
            "scutum_decision_queue_depth", "Alerts or clicks waiting to be decided, by lane.", ["lane"], registry=r
        )
        self.refusals = Counter(
            "scutum_refused_requests_total", "HTTP requests and clicks refused, by endpoint.", ["endpoint"], registry=r
        )
        self.actions_failed = Counter(
            "scutum_actions_failed_total",
            "Action runs that failed or were refused, by action and reason.",
            ["action", "reason"],
            registry=r,
        )
        self.store_errors = Counter("scutum_store_errors_total", "Failed store operations in jobs.", registry=r)
        self.job_errors = Counter("scutum_job_errors_total", "Scheduled jobs that raised, by job.", ["job"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
