"""The agent's configuration: one nested object, loaded once from a YAML file and `SCUTUM_*`
environment variables (environment wins), every field documented.

This is the only module that reads the process environment. Nested fields use `__` in
variable names: `SCUTUM_DATABASE__URL`, `SCUTUM_PLANNER__LLM__API_KEY`. Bad input raises
`SettingsError` with a message that names the field and where the value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from actions.base import ActionLimits
from agent.cluster import DEFAULT_CLUSTER, cluster_name
from agent.owner_settings import OwnersSettings
from agent.paging.settings import PagingSettings
from agent.secret_settings import misplaced_secrets
from agent.settings_sources import (
    CONFIG_FILE_VARIABLE,
    ENV_DELIMITER,
    ENV_PREFIX,
    SettingsError,
    deep_merge,
    describe_errors,
    env_data,
    env_variable_names,
    read_yaml,
    record_sources,
    section_model,
)
from approvals.settings import ApprovalSettings, MattermostSettings, SlackSettings
from risk.settings import PolicySettings, RiskSettings

__all__ = [
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "REDACTED",
    "JsonLogs",
    "PlannerKind",
    "Settings",
    "SettingsError",
    "ci_required",
    "load_settings",
    "redacted",
    "section_model",
    "settings_variable_names",
]

REDACTED = "**********"


def http_url(value: str | None) -> str | None:
    """An http(s) URL with a host, else a settings error naming what is wrong."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    return value


HttpUrl = Annotated[str | None, AfterValidator(http_url)]
"""An optional http(s) URL, validated when the settings load."""


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, docstrings describe fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class KubeSettings(Section):
    """How the agent reaches the Kubernetes API."""

    kubeconfig: Path | None = None
    """Kubeconfig file to use; unset means the client's default (KUBECONFIG or ~/.kube/config)."""
    context: str | None = None
    """Kubeconfig context to use; unset means the file's current context."""
    url: HttpUrl = None
    """API server URL overriding the kubeconfig's (useful against the simulated cluster)."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""


class AlertmanagerSettings(Section):
    """Where alerts come from."""

    url: HttpUrl = None
    """Alertmanager base URL; unset means the simulated cluster's own alert endpoint."""
    poll_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    """How often to poll /api/v2/alerts."""
    poll_max_backoff_seconds: float = Field(default=300.0, gt=0, le=3600)
    """After failed polls, the wait doubles (with jitter) from the poll interval up to this."""
    label_filters: dict[str, str] = Field(default_factory=dict)
    """Only alerts carrying all these label values are taken (e.g. {"cluster": "prod"})."""
    webhook_enabled: bool = True
    """Also accept Alertmanager webhook pushes on the HTTP endpoint."""
    webhook_token: SecretStr | None = None
    """When set, a webhook push must carry `Authorization: Bearer <token>` (Alertmanager's
    `http_config.authorization.credentials`); others get 401 and an audit record."""


class DatabaseSettings(Section):
    """The store: SQLite in the data directory by default, PostgreSQL for several replicas."""

    url: str | None = None
    """SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db; unset means SQLite in data_dir.
    With `migration_url` set, this is the daemon's limited runtime role."""
    migration_url: SecretStr | None = None
    """PostgreSQL URL of the role that owns the tables; `scutum db upgrade` migrates with it and
    grants the runtime role (the user of `url`) its limited privileges. The daemon never needs it."""
    runtime_role: str | None = None
    """The daemon's role that `scutum db upgrade` grants; unset means the user named in `url`."""
    migrate_on_start: bool = True
    """Apply pending migrations when a command opens the store; off when a separate owner role
    migrates (the runtime role may not change the schema)."""
    connect_timeout_seconds: int = Field(default=5, ge=1, le=300)
    """PostgreSQL: give up connecting after this long (a store outage then fails fast and is counted)."""
    statement_timeout_seconds: float = Field(default=15.0, gt=0, le=3600)
    """PostgreSQL: cancel any statement running longer (a lock held by a frozen replica, a slow server)."""


class AuditSettings(Section):
    """The tamper-evident audit chain."""

    hmac_key: SecretStr | None = None
    """Key for an HMAC-SHA256 chain; unset means a plain SHA-256 chain."""
    signing_key: SecretStr | None = None
    """Ed25519 private key (PEM, or base64 of its 32 bytes; `scutum audit keygen` makes one) that
    signs checkpoints of the chain's head for the witnesses; unset means no checkpoints."""
    previous_signing_key: SecretStr | None = None
    """During a key rotation, the key being replaced: it endorses the new key in the chain."""
    checkpoint_public_keys: list[str] = Field(default_factory=list)
    """Public keys (base64 or PEM) that `scutum audit verify` trusts for checkpoints; keys the
    chain shows endorsed by a trusted key, and the configured signing keys' own, are trusted too."""
    checkpoint_interval_seconds: float = Field(default=60.0, gt=0, le=86400)
    """How often the head is signed and published (when it moved; always on shutdown)."""
    checkpoint_configmap: str = Field(default="scutum-checkpoints", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    """ConfigMap in the agent's namespace that witnesses checkpoints."""
    checkpoint_history: int = Field(default=1000, ge=1, le=3000)
    """Checkpoints kept on that ConfigMap (about 200 bytes each; a ConfigMap holds 1 MiB)."""


class AgentIdentitySettings(Section):
    """Who the agent is and what it may touch."""

    namespace: str = "scutum"
    """Namespace the agent itself runs in."""
    managed_namespaces: list[str] = Field(default_factory=list)
    """Namespaces the agent watches and may act in (others are vetoed); empty means every namespace."""
    identity: str | None = None
    """This replica's identity in claims and leases; unset means the host name."""
    cluster: Annotated[str, AfterValidator(cluster_name)] = DEFAULT_CLUSTER
    """Name of the Kubernetes cluster this agent runs in (a DNS-1123 label). Every store record
    carries it, so agents of many clusters may share one database: each sees, dispatches and
    audits only its own cluster's records (docs/fleet.md). Keep it stable: renaming a cluster
    leaves its history under the old name."""
    strict_secrets: bool = False
    """Refuse to start when a secret setting (token, key, database URL) arrives from anywhere but
    its own upper-case `SCUTUM_*` variable, filled from a Secret; the chart turns this on."""
    shutdown_budget_seconds: float = Field(default=45.0, gt=0, le=3600)
    """On SIGTERM, how long in-flight writes may take to finish (waits and verifications stop at
    once and are left for recovery). Keep it below the pod's terminationGracePeriodSeconds."""


class LeaderElectionSettings(Section):
    """Kubernetes Lease election among replicas."""

    enabled: bool = False
    """Elect one acting replica through a Lease (needed with more than one replica)."""
    lease_name: str = "scutum-leader"
    """Name of the Lease object."""
    namespace: str | None = None
    """Namespace of the Lease; unset means the agent's own namespace."""
    lease_duration_seconds: float = Field(default=15.0, gt=0)
    """How long a lease is valid without renewal."""
    renew_deadline_seconds: float = Field(default=10.0, gt=0)
    """The leader gives up leadership when it cannot renew within this time."""
    retry_period_seconds: float = Field(default=2.0, gt=0)
    """How often candidates try to acquire or renew the lease."""
    clock_skew_seconds: float = Field(default=2.0, ge=0)
    """The most the replicas' clocks may disagree; renew deadline plus this must stay below the
    lease duration, so a leader that cannot renew stops writing before a standby may take over."""

    @model_validator(mode="after")
    def _fenced_in_time(self) -> LeaderElectionSettings:
        if self.renew_deadline_seconds + self.clock_skew_seconds >= self.lease_duration_seconds:
            raise ValueError(
                "leader_election: renew_deadline_seconds + clock_skew_seconds must be below lease_duration_seconds"
            )
        if self.retry_period_seconds >= self.renew_deadline_seconds:
            raise ValueError("leader_election: retry_period_seconds must be below renew_deadline_seconds")
        return self


class HttpSettings(Section):
    """The agent's HTTP endpoint (health, metrics, webhook)."""

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port to listen on (0 picks a free one)."""
    max_webhook_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Largest Alertmanager webhook body; a larger one gets 413 before it is read."""
    max_slack_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    """Largest Slack interaction body; a larger one gets 413 before it is read."""
    rate_limit_per_source: float = Field(default=50.0, ge=0)
    """Requests a second one peer address may send to /alertmanager and /slack/events (bursts
    up to ten times that); beyond it 429 with Retry-After. 0 turns the limit off."""
    refusal_summary_seconds: float = Field(default=60.0, gt=0, le=3600)
    """Unauthenticated refusals from one source for one reason are one audit record per this
    interval (the first at once, a count of the rest when it ends)."""


class QueueSettings(Section):
    """The one bounded decision queue between the endpoints and the workers."""

    alerts_capacity: int = Field(default=20_000, ge=1)
    """Alerts about known targets waiting to be decided; beyond it the webhook answers 429."""
    doubtful_capacity: int = Field(default=20_000, ge=1)
    """Alerts about objects the cluster does not know (decided after the others); beyond it 429."""
    clicks_capacity: int = Field(default=1_000, ge=1)
    """Slack clicks waiting to be applied; beyond it Slack gets 503."""
    slow_job_seconds: float = Field(default=30.0, gt=0)
    """A queued job running longer than this is logged and counted as slow."""


class ConsoleSettings(Section):
    """The web console, served by the agent's HTTP endpoint under /console/."""

    enabled: bool = False
    """Serve the console. Off by default; read-only unless `identity_header` is set."""
    identity_header: str | None = None
    """Header carrying the signed-in user, set by an authenticating proxy in front of the agent
    (e.g. X-Forwarded-Email from oauth2-proxy). Unset: nobody is signed in and the console is
    read-only. Set it only when every request reaches the agent through that proxy."""
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    """Peer addresses whose identity header is believed; from any other peer it is ignored."""
    csrf_key: SecretStr | None = None
    """Key that signs the console's CSRF tokens; unset means a random key per process (tokens
    then stop working at a restart and differ between replicas)."""
    show_prompts: bool = True
    """Show LLM prompts and answers to signed-in users (never to anonymous ones)."""
    page_size: int = Field(default=50, ge=5, le=500)
    """Incidents or audit records per page."""
    refresh_seconds: int = Field(default=10, ge=1, le=3600)
    """How often the incident and approval lists reload themselves."""


class JsonLogs(StrEnum):
    """Whether log lines are JSON."""

    AUTO = "auto"
    """JSON when stderr is not a terminal, key=value on a terminal."""
    TRUE = "true"
    FALSE = "false"


class LoggingSettings(Section):
    """Structured logging."""

    level: str = Field(default="info", pattern=r"(?i)^(debug|info|warning|error|critical)$")
    """Lowest level written: debug, info, warning, error or critical."""
    json_lines: JsonLogs = Field(default=JsonLogs.AUTO, alias="json")
    """JSON lines: auto (when not on a terminal), true or false. Key: `json`."""

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("json_lines", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        """YAML reads `json: true` as a boolean; accept it as the string it means."""
        return str(value).lower() if isinstance(value, bool) else value


class PlannerKind(StrEnum):
    """Which planner proposes actions."""

    RUNBOOK = "runbook"
    LLM = "llm"
    LLM_WITH_RUNBOOK_FALLBACK = "llm-with-runbook-fallback"


class LlmSettings(Section):
    """An OpenAI-compatible chat completions endpoint for the LLM planner."""

    base_url: HttpUrl = None
    """Base URL of the endpoint; unset means the client's default."""
    model: str = "gpt-4o-mini"
    """Model name sent with each request."""
    api_key: SecretStr | None = None
    """API key sent as a bearer token."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Total time the planner waits on the endpoint for one incident, retries included."""
    max_tokens: int = Field(default=2048, gt=0)
    """Upper bound on the tokens of one response."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed request before the planner falls back or escalates."""
    strict_tools: bool = True
    """Send strict tool schemas; turn off for servers that reject `strict`."""


class PlannerSettings(Section):
    """How incidents become proposals."""

    kind: PlannerKind = PlannerKind.RUNBOOK
    """runbook, llm, or llm-with-runbook-fallback."""
    runbook_path: Path | None = None
    """YAML runbook rules; unset means the built-in rules."""
    llm: LlmSettings = Field(default_factory=LlmSettings)
    """The LLM endpoint, used by the llm kinds."""


class ActionsSettings(Section):
    """Bounds on what one action may change (see actions.base.ActionLimits)."""

    max_scale_replicas: int = Field(default=ActionLimits.max_scale_replicas, ge=1)
    """No scale_workload goes above this many replicas."""
    resource_factor_up: float = Field(default=ActionLimits.resource_factor_up, ge=1.0)
    """set_resources may at most multiply a request or limit by this."""
    resource_factor_down: float = Field(default=ActionLimits.resource_factor_down, gt=0, le=1.0)
    """set_resources may at most multiply a request or limit down to this."""
    drain_timeout_seconds: float = Field(default=ActionLimits.drain_timeout_seconds, gt=0)
    """drain_node gives up (leaving the node cordoned) after this long."""
    max_drain_evictions: int = Field(default=ActionLimits.max_drain_evictions, ge=0)
    """drain_node refuses a node from which it would evict more pods than this."""
    max_unschedulable_fraction: float = Field(default=ActionLimits.max_unschedulable_fraction, gt=0, le=1.0)
    """drain_node refuses when, after cordoning, more than this share of the nodes would be cordoned."""

    def limits(self) -> ActionLimits:
        """These bounds as the action layer's `ActionLimits` (protected namespaces: the policy's,
        added by `agent.app.action_limits`)."""
        return ActionLimits(**self.model_dump())


class SnapshotSettings(Section):
    """Last-known-good history of watched objects."""

    retention_count: int = Field(default=20, ge=1)
    """Versions kept per object."""
    retention_age_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    """Versions older than this are dropped (the newest one of each object is always kept)."""


class Settings(BaseSettings):
    """Everything the agent can be told. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
    )

    data_dir: Path = Path("scutum-data")
    """Directory for the embedded SQLite store and other local state."""
    kube: KubeSettings = Field(default_factory=KubeSettings)
    """The Kubernetes API."""
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    """The alert source."""
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    """The store."""
    audit: AuditSettings = Field(default_factory=AuditSettings)
    """The audit chain."""
    agent: AgentIdentitySettings = Field(default_factory=AgentIdentitySettings)
    """Identity, scope and modes of the agent."""
    leader_election: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)
    """Leader election among replicas."""
    http: HttpSettings = Field(default_factory=HttpSettings)
    """The HTTP endpoint."""
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    """The web console."""
    queue: QueueSettings = Field(default_factory=QueueSettings)
    """The decision queue."""
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Logging."""
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    """The planner."""
    actions: ActionsSettings = Field(default_factory=ActionsSettings)
    """Action limits."""
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    """Last-known-good snapshots."""
    owners: OwnersSettings = Field(default_factory=OwnersSettings)
    """What to do with objects GitOps, Helm or an operator manages."""
    risk: RiskSettings = Field(default_factory=RiskSettings)
    """How risk components are scored and combined."""
    policy: PolicySettings = Field(default_factory=PolicySettings)
    """Thresholds, vetoes and budgets that turn a score into a verdict."""
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    """Who may approve and how long requests wait."""
    slack: SlackSettings = Field(default_factory=SlackSettings)
    """The Slack approval channel."""
    mattermost: MattermostSettings = Field(default_factory=MattermostSettings)
    """The Mattermost approval channel."""
    paging: PagingSettings = Field(default_factory=PagingSettings)
    """Paging on-call through PagerDuty or Opsgenie."""

    def database_url(self) -> str:
        """The configured database URL, or SQLite in `data_dir`."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'scutum.db'}"


def load_settings(path: Path | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from a YAML file (optional) and `SCUTUM_*` variables of `env`.

    `env` defaults to the process environment; `SCUTUM_CONFIG` names the file when `path` is None.
    Raises `SettingsError` naming the field and its source on any bad input.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    if path is None and environ.get(CONFIG_FILE_VARIABLE):
        path = Path(environ[CONFIG_FILE_VARIABLE])
    sources: dict[tuple[str, ...], str] = {}
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path)
        record_sources(data, (), f"file {path}", sources)
    deep_merge(data, env_data(environ, sources, root=Settings))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, sources, root=Settings)) from None
    if settings.agent.strict_secrets and (problems := misplaced_secrets(data, sources)):
        raise SettingsError("secrets outside Secrets (agent.strict_secrets is on):\n  " + "\n  ".join(problems))
    return settings


def settings_variable_names() -> list[str]:
    """Every leaf `SCUTUM_*` variable name the settings understand."""
    return env_variable_names(Settings)


def ci_required() -> bool:
    """True when CI=true: services the tests need must be present (tests fail instead of skipping)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain JSON data, with every secret shown as `**********`."""
    data = _redact(settings, settings.model_dump(mode="json", by_alias=True))
    if settings.database.url:
        data["database"]["url"] = _mask_url_password(settings.database.url)
    return data


def _redact(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            dumped[key] = REDACTED
        elif isinstance(value, BaseModel):
            dumped[key] = _redact(value, dumped[key])
    return dumped


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
