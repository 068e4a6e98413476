"""The tools the LLM planner offers: one function per registry action, plus `escalate`.

Each action's tool is generated from the registry's JSON schema and made strict (every
property required, optional ones nullable, no extra properties), so endpoints that enforce
strict schemas constrain the model's output to what the action accepts. Claims about the
world travel in one extra `claims` argument, shaped by the auditor's vocabulary; it is
stripped before the params are validated and handed to the proposal for the auditor.
Nothing here lets a model run a command: the only tools are the nine typed actions and
`escalate`, which changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions.base import ActionName
from actions.registry import get_action, params_schema
from risk.auditor import ClaimKey

ESCALATE = "escalate"
"""The tool that hands the incident to a person."""
CLAIMS = "claims"
"""The extra argument every action tool takes for the model's claims about the world."""
ESCALATE_REASON_CHARS = 500
"""Longest reason the escalate tool accepts."""

_CLAIM_TYPES: dict[ClaimKey, tuple[str, ...]] = {
    ClaimKey.TARGET_EXISTS: ("boolean",),
    ClaimKey.READY_REPLICAS: ("integer",),
    ClaimKey.DESIRED_REPLICAS: ("integer",),
    ClaimKey.UPDATED_REPLICAS: ("integer",),
    ClaimKey.ROLLOUT_IN_FLIGHT: ("boolean",),
    ClaimKey.HEALTHY_REVISION: ("string", "integer"),
    ClaimKey.ALERT_FIRING: ("boolean",),
    ClaimKey.NODE_READY: ("boolean",),
    ClaimKey.NODE_POD_COUNT: ("integer",),
    ClaimKey.POD_HAS_LOCAL_STORAGE: ("boolean",),
    ClaimKey.PDB_DISRUPTIONS_ALLOWED: ("integer",),
    ClaimKey.HPA_PRESENT: ("boolean",),
}
"""The JSON type of each claim, from the auditor's vocabulary."""

_DROPPED_KEYWORDS = ("title", "default")
"""Schema keywords strict endpoints reject or that only add tokens."""


@dataclass(frozen=True)
class ToolSet:
    """The tools offered in one request, and what is needed to read the answer back."""

    tools: tuple[dict[str, Any], ...]
    """Chat-completions `tools` entries, ready to send."""
    optional_params: Mapping[str, frozenset[str]]
    """Per action: params the registry schema does not require (a null from the model means unset)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Tool names in the order they are offered."""
        return tuple(str(t["function"]["name"]) for t in self.tools)

    @property
    def schema_hash(self) -> str:
        """sha256 of the tool definitions as sent, so the audit record pins exactly what was offered."""
        text = json.dumps(self.tools, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    variants = schema.get("anyOf")
    if isinstance(variants, list) and any(v.get("type") == "null" for v in variants):
        return schema
    description = schema.pop("description", None)
    wrapped: dict[str, Any] = {"anyOf": [schema, {"type": "null"}]}
    if description:
        wrapped["description"] = description
    return wrapped


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema in the strict subset: objects closed, every property required.

    A property that was optional becomes nullable instead, so a strict endpoint still lets
    the model leave it unset (null) and the planner drops the null before validation.
    """
    out: dict[str, Any] = {k: v for k, v in copy.deepcopy(dict(schema)).items() if k not in _DROPPED_KEYWORDS}
    for key in ("$defs", "properties"):
        if isinstance(out.get(key), dict):
            out[key] = {name: strict_schema(sub) for name, sub in out[key].items()}
    for key in ("anyOf", "allOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [strict_schema(sub) for sub in out[key]]
    if isinstance(out.get("items"), dict):
        out["items"] = strict_schema(out["items"])
    if out.get("type") == "object" and "properties" in out:
        required = set(out.get("required", []))
        out["properties"] = {
            name: sub if name in required else _nullable(sub) for name, sub in out["properties"].items()
        }
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def claims_schema() -> dict[str, Any]:
    """The `claims` argument: each vocabulary key nullable (null: no claim), nothing else."""
    properties: dict[str, Any] = {}
    for key, types in _CLAIM_TYPES.items():
        variants = [{"type": t} for t in types]
        properties[key.value] = {"anyOf": [*variants, {"type": "null"}], "description": key.__doc__ or key.value}
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
            {"type": "null"},
        ],
        "description": "What you believe about the target right now; each claim is checked against the cluster "
        "and a false or unverifiable claim raises the risk. Null for anything you do not know.",
    }


def action_tool(name: ActionName, *, strict: bool = True) -> tuple[dict[str, Any], frozenset[str]]:
    """The tool for one action and the params its schema leaves optional."""
    raw = params_schema(name)
    if CLAIMS in raw.get("properties", {}):
        raise ValueError(f"{name.value} has a param named {CLAIMS!r}, which the claims argument would shadow")
    optional = frozenset(raw.get("properties", {})) - frozenset(raw.get("required", []))
    parameters = strict_schema(raw) if strict else copy.deepcopy(raw)
    parameters["properties"][CLAIMS] = claims_schema()
    if strict:
        parameters["required"] = list(parameters["properties"])
    parameters["additionalProperties"] = False
    action = get_action(name)
    function: dict[str, Any] = {"name": name.value, "description": action.summary, "parameters": parameters}
    if strict:
        function["strict"] = True
    return {"type": "function", "function": function}, optional


def escalate_tool(*, strict: bool = True) -> dict[str, Any]:
    """`escalate(reason)`: hand the incident to a person; nothing in the cluster changes."""
    function: dict[str, Any] = {
        "name": ESCALATE,
        "description": "Hand the incident to a person when no action fits or the data is unclear. "
        "Nothing in the cluster changes.",
        "parameters": {
            "type": "object",
            "properties": {
                "reason": {
                    "type": "string",
                    "maxLength": ESCALATE_REASON_CHARS,
                    "description": "One or two sentences for the on-call engineer.",
                }
            },
            "required": ["reason"],
            "additionalProperties": False,
        },
    }
    if strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def build_toolset(*, strict: bool = True) -> ToolSet:
    """Every registry action as a tool, then `escalate`; nothing else."""
    tools: list[dict[str, Any]] = []
    optional: dict[str, frozenset[str]] = {}
    for name in ActionName:
        tool, opt = action_tool(name, strict=strict)
        tools.append(tool)
        optional[name.value] = opt
    tools.append(escalate_tool(strict=strict))
    return ToolSet(tools=tuple(tools), optional_params=optional)
