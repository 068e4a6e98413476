"""The LLM planner: an OpenAI-compatible chat model picks one registry action, or escalates.

The model is not the safety boundary. It is offered only the nine registry actions and
`escalate` as tools; its answer becomes a proposal only when it is exactly one call whose
arguments validate against the action's params and whose target is the incident's own.
Everything else, and every timeout or endpoint error, becomes an escalation. A proposal still
goes through risk scoring and policy like any other. The whole exchange (messages, tools
offered, raw answer, token usage, latency, retries) is returned in the trace for the audit chain.

This is the only module that imports the LLM client (`openai`).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from actions.base import DNS1123_LABEL, DNS1123_SUBDOMAIN, TargetRef
from agent.intake import Incident, IncidentState
from agent.planning.base import Decision, Escalation, Ignore, PlanResult
from agent.planning.llm_output import Outcome, Reading, Rejected, read_answer, read_completion
from agent.planning.llm_prompt import build_messages, incident_data, object_summary
from agent.planning.llm_tools import ToolSet, build_toolset
from agent.planning.targets import ClusterReader, ResolvedTarget, TargetResolver, UnresolvedTarget
from agent.settings import LlmSettings

__all__ = ["FactsProvider", "HintSource", "LlmClient", "LlmPlanner", "Outcome"]

FactsProvider = Callable[[Incident, ResolvedTarget], Mapping[str, Any]]
"""Facts about the resolved target for the prompt, as plain JSON-able data (never secrets)."""
HintSource = Callable[[str], Sequence[str]]
"""The operator's runbook hints for an alert name."""
LlmClient = openai.OpenAI
"""The chat client type, so callers can pass one without importing `openai` themselves."""

MAX_RAW_CHARS = 20_000
"""Longest raw response body kept in the trace."""
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 4.0
MIN_ATTEMPT_SECONDS = 0.05
"""An attempt is not started with less time than this left."""
PLACEHOLDER_KEY = "unused"
"""Sent when no key is configured: local servers ignore it, the client insists on one."""

_NAME = re.compile(DNS1123_SUBDOMAIN)
_NAMESPACE = re.compile(DNS1123_LABEL)


def build_client(settings: LlmSettings) -> openai.OpenAI:
    """An OpenAI-compatible client from the settings; it retries nothing itself (the planner does)."""
    key = settings.api_key.get_secret_value() if settings.api_key is not None else PLACEHOLDER_KEY
    return openai.OpenAI(api_key=key, base_url=settings.base_url, timeout=settings.timeout_seconds, max_retries=0)


def _public_url(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)


def _retry_after(exc: BaseException | None) -> float | None:
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class _StopAtDeadline(stop_base):
    """Stop retrying when the next attempt would start too close to the deadline to be useful."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + (retry_state.upcoming_sleep or 0.0) >= self._deadline - MIN_ATTEMPT_SECONDS


class DeadlinePassed(Exception):
    """The planner's time budget ran out before another attempt could start."""


@dataclass
class _Exchange:
    attempts: list[dict[str, Any]] = field(default_factory=list)
    body: str | None = None
    error: str | None = None


class LlmPlanner:
    """Plans by asking a chat model to call one registry tool; see the module docstring."""

    name = "llm"

    def __init__(
        self,
        settings: LlmSettings,
        *,
        reader: ClusterReader,
        facts_provider: FactsProvider | None = None,
        hints: HintSource | None = None,
        client: LlmClient | None = None,
        strict_tools: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.toolset: ToolSet = build_toolset(strict=strict_tools)
        self._client = client if client is not None else build_client(settings)
        self._resolver = TargetResolver(reader)
        self._facts = facts_provider
        self._hints = hints
        self._clock = clock
        self._sleep = sleep

    def plan(self, incident: Incident, *, now: datetime) -> PlanResult:
        """A proposal only from exactly one valid call on the incident's target; otherwise an escalation."""
        trace: dict[str, Any] = {
            "planner": self.name,
            "model": self.settings.model,
            "endpoint": _public_url(self.settings.base_url),
            "incident": {
                "id": incident.id,
                "started_at": incident.started_at.isoformat(),
                "group_key": incident.group_key,
            },
        }
        if incident.state is IncidentState.CLOSED or not incident.alerts:
            reason = "the incident is closed: its alerts resolved or its fix was verified"
            return self._done(trace, Ignore(reason), Outcome.IGNORED)
        try:
            resolved, alert_object = self._resolve(incident)
        except UnresolvedTarget as exc:
            return self._done(trace, Escalation(f"LLM planner: {exc.reason}"), Outcome.NO_TARGET)
        target = TargetRef(resolved.kind, resolved.name, resolved.namespace)
        allowed = tuple(dict.fromkeys((target, alert_object)))
        trace["allowed_targets"] = [str(t) for t in allowed]
        facts = (
            self._facts(incident, resolved)
            if self._facts
            else object_summary(resolved.obj, kind=resolved.kind, chain=resolved.chain)
        )
        data = incident_data(incident, target=target, alert_object=alert_object, facts=facts, now=now)
        messages = build_messages(data, hints=self._hint_lines(incident))
        trace["request"] = {
            "messages": messages,
            "tools": {"names": list(self.toolset.names), "schema_sha256": self.toolset.schema_hash},
            "tool_choice": "required",
            "max_tokens": self.settings.max_tokens,
        }
        return self._ask(trace, messages, incident=incident, allowed=allowed)

    def _ask(
        self,
        trace: dict[str, Any],
        messages: list[dict[str, str]],
        *,
        incident: Incident,
        allowed: tuple[TargetRef, ...],
    ) -> PlanResult:
        started = self._clock()
        exchange = self._exchange(messages)
        trace.update(
            attempts=exchange.attempts,
            retries=max(0, len(exchange.attempts) - 1),
            latency_ms=round((self._clock() - started) * 1000, 1),
        )
        if exchange.body is None:
            reason = f"LLM endpoint failed: {exchange.error}"
            return self._done(trace, Escalation(reason), Outcome.TRANSPORT_ERROR)
        trace["response"] = {"raw": exchange.body[:MAX_RAW_CHARS], "raw_chars": len(exchange.body)}
        try:
            completion = read_completion(exchange.body)
        except Rejected as exc:
            return self._done(trace, Escalation(f"LLM output refused: {exc}"), Outcome.INVALID_OUTPUT)
        trace["response"]["usage"] = completion.usage
        trace["response"]["finish_reason"] = completion.choices[0].finish_reason
        reading = read_answer(completion, toolset=self.toolset, incident=incident, allowed=allowed)
        return self._read(trace, reading)

    def _resolve(self, incident: Incident) -> tuple[ResolvedTarget, TargetRef]:
        ref = incident.target
        if ref is None:
            raise UnresolvedTarget("the alerts name no object to act on")
        if not _NAME.fullmatch(ref.name) or len(ref.name) > 253:
            raise UnresolvedTarget("the alert's object label is not a valid Kubernetes name")
        if ref.namespace is not None and not _NAMESPACE.fullmatch(ref.namespace):
            raise UnresolvedTarget("the alert's namespace label is not a valid Kubernetes namespace")
        labels = next(iter(incident.alerts.values())).labels
        resolved = self._resolver.resolve(ref, labels=labels)
        if resolved.kind == "HorizontalPodAutoscaler" and resolved.obj is not None:
            resolved = self._resolver.through_hpa(resolved)
        return resolved, TargetRef(ref.kind, ref.name, ref.namespace)

    def _hint_lines(self, incident: Incident) -> list[str]:
        if self._hints is None:
            return []
        return list(dict.fromkeys(h for name in incident.alert_names for h in self._hints(name)))

    def _exchange(self, messages: list[dict[str, str]]) -> _Exchange:
        exchange = _Exchange()
        deadline = self._clock() + self.settings.timeout_seconds

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (state.attempt_number - 1))
            hinted = _retry_after(exc)
            return max(0.0, min(hinted if hinted is not None else backoff, deadline - self._clock()))

        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self.settings.max_retries + 1), _StopAtDeadline(deadline, self._clock)),
            wait=wait,
            retry=retry_if_exception(_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            exchange.body = retrying(self._attempt, messages, deadline, exchange.attempts)
        except openai.APIStatusError as exc:
            exchange.error = f"HTTP {exc.status_code} after {len(exchange.attempts)} attempt(s)"
        except openai.APITimeoutError:
            exchange.error = f"timed out after {self.settings.timeout_seconds:g}s ({len(exchange.attempts)} attempt(s))"
        except (openai.OpenAIError, DeadlinePassed) as exc:
            exchange.error = f"{type(exc).__name__} after {len(exchange.attempts)} attempt(s): {str(exc)[:200]}"
        return exchange

    def _attempt(self, messages: list[dict[str, str]], deadline: float, attempts: list[dict[str, Any]]) -> str:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise DeadlinePassed(f"no time left of the {self.settings.timeout_seconds:g}s budget")
        record: dict[str, Any] = {"attempt": len(attempts) + 1, "timeout_s": round(remaining, 3)}
        attempts.append(record)
        started = self._clock()
        try:
            raw = self._client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
                model=self.settings.model,
                messages=messages,
                tools=list(self.toolset.tools),
                tool_choice="required",
                max_tokens=self.settings.max_tokens,
                timeout=remaining,
            )
        except openai.APIStatusError as exc:
            record.update(status=exc.status_code, error=type(exc).__name__)
            raise
        except openai.OpenAIError as exc:
            record.update(error=type(exc).__name__)
            raise
        finally:
            record["latency_ms"] = round((self._clock() - started) * 1000, 1)
        record["status"] = raw.status_code
        return str(raw.text)

    def _read(self, trace: dict[str, Any], reading: Reading) -> PlanResult:
        if reading.call:
            trace["call"] = dict(reading.call)
        return self._done(trace, reading.decision, reading.outcome)

    def _done(self, trace: dict[str, Any], decision: Decision, outcome: Outcome) -> PlanResult:
        trace["outcome"] = outcome.value
        if isinstance(decision, Escalation | Ignore):
            trace["decision"] = {type(decision).__name__.lower(): decision.reason}
        else:
            trace["decision"] = {
                "proposal": {"action": decision.action.value, "params": decision.params.model_dump(mode="json")},
                "target": str(decision.target),
                "claims": dict(decision.claims),
            }
        return PlanResult(decision, trace)
