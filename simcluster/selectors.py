"""Label and field selectors with the grammar the Kubernetes API accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simcluster.errors import BadRequest

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # =, !=, in, notin, exists, !exists
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # != and notin


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        reqs = []
        for part in _split_top_level(text):
            eq = _EQ_RE.match(part)
            if eq:
                key, op, value = eq.groups()
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
                continue
            match = _SET_RE.match(part)
            if not match:
                raise BadRequest(f"unable to parse requirement: {part!r}")
            bang, key, op, values = match.groups()
            if op:
                reqs.append(Requirement(key, op, tuple(v.strip() for v in values.split(",") if v.strip())))
            else:
                reqs.append(Requirement(key, "!exists" if bang else "exists"))
        return cls(tuple(reqs))

    @classmethod
    def from_match_labels(cls, selector: dict[str, Any] | None) -> LabelSelector:
        """From a `metav1.LabelSelector` object (matchLabels and matchExpressions)."""
        selector = selector or {}
        reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
        ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
        for expr in selector.get("matchExpressions") or []:
            reqs.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
        return cls(tuple(reqs))

    def matches(self, labels: dict[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def _field(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[tuple[str, bool, str], ...]  # (path, equal, value)

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        reqs = []
        for part in _split_top_level(text):
            match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
            if not match:
                raise BadRequest(f"invalid field selector: {part!r}")
            path, op, value = match.groups()
            reqs.append((path, op != "!=", value))
        return cls(tuple(reqs))

    def matches(self, obj: dict[str, Any]) -> bool:
        return all((_field(obj, path) == value) == equal for path, equal, value in self.requirements)
