"""The agent's configuration: one nested object, loaded once from a YAML file and `SCUTUM_*`
environment variables (environment wins), every field documented.

This is the only module that reads the process environment. Nested fields use `__` in
variable names: `SCUTUM_DATABASE__URL`, `SCUTUM_PLANNER__LLM__API_KEY`. Bad input raises
`SettingsError` with a message that names the field and where the value came from.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from actions.base import ActionLimits
from approvals.settings import ApprovalSettings, SlackSettings
from risk.settings import PolicySettings, RiskSettings

ENV_PREFIX = "SCUTUM_"
ENV_DELIMITER = "__"
CONFIG_FILE_VARIABLE = "SCUTUM_CONFIG"
"""Names a YAML settings file when no path is given; not a settings field itself."""
REDACTED = "**********"


class SettingsError(Exception):
    """The settings could not be loaded; the message is meant for a person to read."""


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, docstrings describe fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class KubeSettings(Section):
    """How the agent reaches the Kubernetes API."""

    kubeconfig: Path | None = None
    """Kubeconfig file to use; unset means the client's default (KUBECONFIG or ~/.kube/config)."""
    context: str | None = None
    """Kubeconfig context to use; unset means the file's current context."""
    url: str | None = None
    """API server URL overriding the kubeconfig's (useful against the simulated cluster)."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""


class AlertmanagerSettings(Section):
    """Where alerts come from."""

    url: str | None = None
    """Alertmanager base URL; unset means the simulated cluster's own alert endpoint."""
    poll_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    """How often to poll /api/v2/alerts."""
    label_filters: dict[str, str] = Field(default_factory=dict)
    """Only alerts carrying all these label values are taken (e.g. {"cluster": "prod"})."""
    webhook_enabled: bool = True
    """Also accept Alertmanager webhook pushes on the HTTP endpoint."""


class DatabaseSettings(Section):
    """The store: SQLite in the data directory by default, PostgreSQL for several replicas."""

    url: str | None = None
    """SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db; unset means SQLite in data_dir."""


class AuditSettings(Section):
    """The tamper-evident audit chain."""

    hmac_key: SecretStr | None = None
    """Key for an HMAC-SHA256 chain; unset means a plain SHA-256 chain."""


class AgentIdentitySettings(Section):
    """Who the agent is and what it may touch."""

    namespace: str = "scutum"
    """Namespace the agent itself runs in."""
    managed_namespaces: list[str] = Field(default_factory=list)
    """Namespaces the agent watches and may act in; empty means every namespace."""
    identity: str | None = None
    """This replica's identity in claims and leases; unset means the host name."""
    dry_run: bool = False
    """Send only server-side dry runs; never change the cluster (shadow mode is `policy.shadow`)."""


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


class HttpSettings(Section):
    """The agent's HTTP endpoint (health, metrics, webhook)."""

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port to listen on (0 picks a free one)."""


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

    base_url: str | None = None
    """Base URL of the endpoint; unset means the client's default."""
    model: str = "gpt-4o-mini"
    """Model name sent with each request."""
    api_key: SecretStr | None = None
    """API key sent as a bearer token."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Timeout of one request."""
    max_tokens: int = Field(default=2048, gt=0)
    """Upper bound on the tokens of one response."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed request before the planner falls back or escalates."""


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

    def limits(self) -> ActionLimits:
        """These bounds as the action layer's `ActionLimits`."""
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
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    """Logging."""
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    """The planner."""
    actions: ActionsSettings = Field(default_factory=ActionsSettings)
    """Action limits."""
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    """Last-known-good snapshots."""
    risk: RiskSettings = Field(default_factory=RiskSettings)
    """How risk components are scored and combined."""
    policy: PolicySettings = Field(default_factory=PolicySettings)
    """Thresholds, vetoes and budgets that turn a score into a verdict."""
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    """Who may approve and how long requests wait."""
    slack: SlackSettings = Field(default_factory=SlackSettings)
    """The Slack approval channel."""

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
        data = _read_yaml(path)
        _record_sources(data, (), f"file {path}", sources)
    env_data = _env_data(environ, sources)
    _deep_merge(data, env_data)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, sources)) from None


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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError(f"{where}: malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: malformed YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections, not {type(loaded).__name__}")
    return loaded


def _record_sources(
    data: Mapping[str, Any], loc: tuple[str, ...], source: str, out: dict[tuple[str, ...], str]
) -> None:
    for key, value in data.items():
        out[(*loc, str(key))] = source
        if isinstance(value, Mapping):
            _record_sources(value, (*loc, str(key)), source, out)


def _env_data(environ: Mapping[str, str], sources: dict[tuple[str, ...], str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for variable, raw in sorted(environ.items()):
        if not variable.upper().startswith(ENV_PREFIX) or variable.upper() == CONFIG_FILE_VARIABLE:
            continue
        loc = tuple(part.lower() for part in variable[len(ENV_PREFIX) :].split(ENV_DELIMITER))
        annotation = _resolve_field(loc, variable)
        value: Any = raw
        if _is_structured(annotation):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"environment variable {variable}: expected JSON: {exc.msg}") from None
        node = data
        for part in loc[:-1]:
            node = node.setdefault(part, {})
        node[loc[-1]] = value
        sources[loc] = f"environment variable {variable}"
        if isinstance(value, Mapping):
            _record_sources(value, loc, f"environment variable {variable}", sources)
    return data


def _resolve_field(loc: tuple[str, ...], variable: str) -> Any:
    """The annotation a variable's path lands on; unknown paths raise with a suggestion."""
    model: type[BaseModel] = Settings
    annotation: Any = None
    for depth, part in enumerate(loc):
        fields = {(info.alias or name): info for name, info in model.model_fields.items()}
        if part not in fields:
            close = difflib.get_close_matches(variable.upper(), env_variable_names(), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise SettingsError(f"unknown environment variable {variable}: no settings field {'.'.join(loc)}{hint}")
        annotation = fields[part].annotation
        nested = section_model(annotation)
        if nested is None:
            if get_origin(annotation) is dict and depth < len(loc) - 1:
                return str  # SCUTUM_X__LABELS__KEY sets one entry of a mapping
            if depth < len(loc) - 1:
                raise SettingsError(
                    f"unknown environment variable {variable}: {'.'.join(loc[: depth + 1])} has no fields"
                )
            return annotation
        model = nested
    return annotation


def env_variable_names(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> list[str]:
    """Every leaf `SCUTUM_*` variable name the settings understand."""
    names = []
    for name, info in model.model_fields.items():
        variable = prefix + (info.alias or name).upper()
        nested = section_model(info.annotation)
        names.extend(env_variable_names(nested, variable + ENV_DELIMITER) if nested else [variable])
    return names


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds directly or as an optional; not models inside containers."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _is_structured(annotation: Any) -> bool:
    if section_model(annotation) is not None:
        return True
    origins = {get_origin(annotation), *(get_origin(a) for a in get_args(annotation))}
    return bool(origins & {list, dict, tuple, set})


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _describe(exc: ValidationError, sources: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        source = next((sources[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in sources), "defaults")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _suggest_key(loc)
        lines.append(f"{'.'.join(loc)} (from {source}): {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def _suggest_key(loc: tuple[str, ...]) -> str:
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        info = model.model_fields.get(part) if model else None
        model = section_model(info.annotation) if info else None
    if model is None:
        return ""
    names = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(names))}"
