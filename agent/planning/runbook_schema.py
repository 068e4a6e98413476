"""The runbook file format: YAML validated into pydantic models on load.

A bad runbook is a `RunbookError` naming the rule and the field, raised when the agent starts,
never a surprise in the middle of an incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from actions.base import ActionName
from agent.planning.targets import LABEL_KINDS
from agent.planning.templates import TemplateError, check

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _duration(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not match or not value.strip():
            raise ValueError(f"{value!r} is not a duration like '90s', '15m', '6h' or '1d'")
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration written as '90s', '15m', '6h', '1d' or a number of seconds."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Matcher(_Model):
    """Which alerts a rule answers."""

    alertname: list[str] = Field(min_length=1)
    """Alert names (one or a list); any of them matches."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels that must be equal."""
    labels_regex: dict[str, str] = Field(default_factory=dict)
    """Labels that must fully match a regular expression."""

    @field_validator("alertname", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("labels_regex")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"labels_regex.{label}: {exc}") from exc
        return value

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        """Whether an alert with this name and these labels is one this rule answers."""
        if name not in self.alertname:
            return False
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return False
        return all(re.fullmatch(p, labels.get(k, "")) for k, p in self.labels_regex.items())


class TargetSpec(_Model):
    """How the rule finds the object to act on."""

    label: str | None = None
    """The object label that names the target (deployment, pod, node, job_name, ...); by default
    the most specific object label that does not name the metrics exporter."""
    follow_owners: bool = True
    """Walk ownerReferences (pod → ReplicaSet → Deployment, Job → CronJob) and HPA targets."""
    service_backend: bool = False
    """For a Service: act on the one Deployment or StatefulSet its selector selects."""
    kinds: list[str] = Field(default_factory=list)
    """Kinds the resolved target must have; the rule does not apply otherwise (empty: any)."""

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: str | None) -> str | None:
        if value is not None and value not in LABEL_KINDS:
            raise ValueError(f"unknown object label {value!r}; use one of {', '.join(LABEL_KINDS)}")
        return value


class Guards(_Model):
    """Conditions read from the cluster; the rule applies only when all of them hold."""

    workload_changed_within: Duration | None = None
    """The workload's newest revision was created this recently (and an older one exists)."""
    configmap_changed_within: Duration | None = None
    """A ConfigMap the workload reads was written this recently (sets `configmap.*`)."""
    service_changed_within: Duration | None = None
    """The Service was written this recently or no longer exists."""
    replicas: int | None = Field(default=None, ge=0)
    """The workload's spec.replicas equals this."""
    oom_killed: bool = False
    """A container of the alert's pod was last terminated OOMKilled (sets `container.*`)."""
    hpa_at_max: bool = False
    """The HPA runs at its maxReplicas."""


class Rule(_Model):
    """One alert matcher → one registry action with templated params."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    """Unique rule name, recorded in the planner trace."""
    match: Matcher
    target: TargetSpec = Field(default_factory=TargetSpec)
    guards: Guards = Field(default_factory=Guards)
    action: str
    """One of the nine registry actions."""
    params: dict[str, Any]
    """The action's params; strings may hold `{{ ... }}` placeholders."""
    pending_period: Duration = timedelta(0)
    """The alert rule's `for:` period: the trouble began this long before the alert fired."""
    before_margin: Duration = timedelta(minutes=5)
    """Extra reach back past the pending period for `incident.before`."""
    hint: str = ""
    """Free text the LLM planner may use as guidance for this alert."""

    @field_validator("action")
    @classmethod
    def _in_registry(cls, value: str) -> str:
        if value not in ActionName.__members__.values():
            raise ValueError(f"unknown action {value!r}; use one of {', '.join(a.value for a in ActionName)}")
        return value

    @field_validator("params")
    @classmethod
    def _templates_parse(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            check(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
        return value


class Runbook(_Model):
    """An ordered list of rules; the first that matches and whose guards hold wins."""

    version: Literal[1] = 1
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_names(self) -> Runbook:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return self


class RunbookError(ValueError):
    """The runbook does not load: the message names the rule and the field."""


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules") if isinstance(raw, Mapping) else None
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = rule.get("name") if isinstance(rule, Mapping) else None
        label = f"rule {name!r}" if name else f"rule #{loc[1] + 1}"
        field = ".".join(str(p) for p in loc[2:]) or "(rule)"
        return f"{label}, field {field}"
    return "field " + (".".join(str(p) for p in loc) or "(runbook)")


def parse_runbook(text: str, *, source: str = "runbook") -> Runbook:
    """Validate runbook YAML text; RunbookError names the rule and field on any problem."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return Runbook.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_where(raw, tuple(e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise RunbookError(f"{source}: " + "; ".join(problems)) from None


def load_runbook(path: str | Path | None = None) -> Runbook:
    """Load a runbook file, or the shipped default when `path` is None."""
    if path is None:
        text = resources.files("agent.planning").joinpath("default_runbook.yaml").read_text()
        return parse_runbook(text, source="default_runbook.yaml")
    file = Path(path)
    return parse_runbook(file.read_text(), source=file.name)
