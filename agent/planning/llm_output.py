"""Reading the model's answer: exactly one valid registry call on the incident's target, or an escalation.

The raw response body is validated here, at the edge, into a small wire model. Anything but
one tool call is refused: free text, several calls, an unknown tool, arguments that are not a
JSON object, extra or invalid arguments, a target other than the incident's. Every refusal
is an `Escalation` whose reason says what was wrong, with `Outcome.INVALID_OUTPUT`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from actions.base import TargetRef
from actions.registry import UnknownActionError, parse_invocation
from agent.intake import Incident
from agent.planning.base import Escalation
from agent.planning.llm_tools import CLAIMS, ESCALATE, ToolSet
from risk.model import Proposal

MODEL_REASON_CHARS = 300
"""Longest part of the model's own escalation reason kept in the escalation."""


class Outcome(StrEnum):
    """How an LLM planning attempt ended (recorded in the trace; the fallback planner reads it)."""

    PROPOSED = "proposed"
    MODEL_ESCALATED = "model_escalated"
    """The model called `escalate`: it judged that a person should look."""
    INVALID_OUTPUT = "invalid_output"
    """The answer was not exactly one valid registry call on the incident's target."""
    TRANSPORT_ERROR = "transport_error"
    """Timeout, connection failure, 429 or 5xx after the retry budget, or another HTTP error."""
    NO_TARGET = "no_target"
    """The incident names no object to act on; the model was not asked."""
    IGNORED = "ignored"


TECHNICAL_OUTCOMES = frozenset({Outcome.INVALID_OUTPUT, Outcome.TRANSPORT_ERROR})
"""Escalations caused by the model or its endpoint misbehaving, not by the model's judgement."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireFunction(_Wire):
    name: str
    arguments: str | None = None


class WireToolCall(_Wire):
    type: str = "function"
    function: WireFunction


class WireMessage(_Wire):
    content: Any = None
    tool_calls: list[WireToolCall] | None = None


class WireChoice(_Wire):
    message: WireMessage
    finish_reason: str | None = None


class WireCompletion(_Wire):
    """The parts of a chat-completions response the planner reads."""

    choices: list[WireChoice] = Field(min_length=1)
    usage: dict[str, Any] | None = None


COMPLETION = TypeAdapter(WireCompletion)


class Rejected(Exception):
    """The answer is not a usable tool call; the message is the escalation's reason."""


@dataclass(frozen=True)
class Reading:
    """The decision read from one answer, with what the trace should record about it."""

    decision: Proposal | Escalation
    outcome: Outcome
    call: Mapping[str, Any] = field(default_factory=dict)
    """The tool call as read (name, arguments) when there was exactly one."""


def _quote_model(reason: str) -> str:
    flat = " ".join(reason.split())
    if len(flat) > MODEL_REASON_CHARS:
        flat = flat[:MODEL_REASON_CHARS] + "..."
    return f'the model escalated, in its own words: "{flat}"'


def _validation_summary(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<params>'}: {e['msg']}" for e in errors[:3]]
    return "; ".join(parts)


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        args = json.loads(raw or "")
    except ValueError:
        raise Rejected("the tool call's arguments are not valid JSON") from None
    if not isinstance(args, dict):
        raise Rejected("the tool call's arguments are not a JSON object")
    return args


def _claims(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"the {CLAIMS} argument is not an object")
    claims = {str(k): v for k, v in value.items() if v is not None}
    for key, claimed in claims.items():
        if not isinstance(claimed, bool | int | float | str):
            raise Rejected(f"claim {key[:60]!r} is not a plain value")
    return claims


def read_completion(body: str) -> WireCompletion:
    """The response body as a completion; `Rejected` when it is not one."""
    try:
        return COMPLETION.validate_json(body)
    except ValidationError as exc:
        raise Rejected(f"the endpoint's response is not a chat completion ({_validation_summary(exc)})") from None


def read_answer(
    completion: WireCompletion, *, toolset: ToolSet, incident: Incident, allowed: Collection[TargetRef]
) -> Reading:
    """Turn one completion into a proposal or an escalation; never raises."""
    try:
        return _read(completion, toolset=toolset, incident=incident, allowed=allowed)
    except Rejected as exc:
        return Reading(Escalation(f"LLM output refused: {exc}"), Outcome.INVALID_OUTPUT)


def _read(
    completion: WireCompletion, *, toolset: ToolSet, incident: Incident, allowed: Collection[TargetRef]
) -> Reading:
    message = completion.choices[0].message
    calls = message.tool_calls or []
    if not calls:
        raise Rejected("the model answered with text instead of a tool call")
    if len(calls) != 1 or len(completion.choices) != 1:
        raise Rejected(
            f"the model made {len(calls)} tool calls in {len(completion.choices)} choices; exactly one is allowed"
        )
    call = calls[0]
    name = call.function.name
    if call.type != "function" or name not in toolset.names:
        raise Rejected(f"the model called {name[:60]!r}, which is not an offered tool")
    args = _arguments(call.function.arguments)
    recorded = {"name": name, "arguments": args}
    if name == ESCALATE:
        reason = args.get("reason")
        text = reason if isinstance(reason, str) and reason.strip() else "(no reason given)"
        return Reading(Escalation(_quote_model(text)), Outcome.MODEL_ESCALATED, recorded)
    claims = _claims(args.pop(CLAIMS, None))
    optional = toolset.optional_params.get(name, frozenset())
    params = {k: v for k, v in args.items() if not (v is None and k in optional)}
    try:
        action, typed = parse_invocation(name, params)
    except UnknownActionError as exc:
        raise Rejected(str(exc)) from None
    except ValidationError as exc:
        raise Rejected(f"invalid arguments for {name}: {_validation_summary(exc)}") from None
    target = action.target(typed)
    if target not in allowed:
        shown = ", ".join(str(t) for t in allowed) or "none"
        raise Rejected(f"{name} targets {target}, but this incident's target is {shown}")
    proposal = Proposal(
        action=action.name,
        params=typed,
        target=target,
        incident_started_at=incident.started_at,
        claims=claims,
        alert_names=incident.alert_names,
        alert_fingerprints=tuple(incident.alerts),
    )
    return Reading(proposal, Outcome.PROPOSED, recorded)
