"""Paging settings: which pagers are on, their keys (Secrets), and how pages are routed."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr


class PagerKind(StrEnum):
    """The paging services Scutum can send to."""

    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


class PagerDutySettings(_Section):
    """PagerDuty Events API v2."""

    routing_key: SecretStr | None = None
    """The service integration's routing key (32 characters); from a Secret. Unset: PagerDuty off."""
    url: HttpUrl = HttpUrl("https://events.pagerduty.com/v2/enqueue")
    """The Events API v2 enqueue endpoint."""


class OpsgenieSettings(_Section):
    """Opsgenie's Alert API."""

    api_key: SecretStr | None = None
    """An API integration's key, sent as `Authorization: GenieKey ...`; from a Secret. Unset: Opsgenie off."""
    url: HttpUrl = HttpUrl("https://api.opsgenie.com")
    """The API base URL (`https://api.eu.opsgenie.com` for the EU instance)."""


class PagingRoute(_Section):
    """One routing rule: a page matching every given condition goes to `to`. Empty conditions match all."""

    namespaces: list[str] = Field(default_factory=list)
    """Target namespaces this rule matches (empty: any, including cluster-scoped targets)."""
    severities: list[str] = Field(default_factory=list)
    """Alert `severity` label values this rule matches (empty: any)."""
    reasons: list[str] = Field(default_factory=list)
    """Page reasons this rule matches: escalated, denied, failed, approval_expiring, drift (empty: any)."""
    to: list[PagerKind] = Field(min_length=1)
    """The pagers a matching page goes to."""


class PagingSettings(_Section):
    """Paging on-call for escalations, denials, failed actions and approvals about to expire."""

    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    """PagerDuty Events API v2."""
    opsgenie: OpsgenieSettings = Field(default_factory=OpsgenieSettings)
    """Opsgenie's Alert API."""
    routes: list[PagingRoute] = Field(default_factory=list)
    """Routing rules, first match wins. Without rules every page goes to every configured pager."""
    source: str = "scutum"
    """The page's source (PagerDuty `payload.source`, Opsgenie `source`); the cluster name fits here."""
    expiry_warning_seconds: float = Field(default=300.0, ge=0)
    """Page when a pending approval has this long left before it expires (0: never)."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Tries per page, with exponential backoff; Retry-After is honoured."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """HTTP timeout of one try."""

    @property
    def enabled(self) -> list[PagerKind]:
        """The pagers that have a key."""
        kinds = []
        if self.pagerduty.routing_key is not None:
            kinds.append(PagerKind.PAGERDUTY)
        if self.opsgenie.api_key is not None:
            kinds.append(PagerKind.OPSGENIE)
        return kinds
