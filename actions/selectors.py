"""A `metav1.LabelSelector` object as the `labelSelector` query the API server takes, so a read
of "what this workload selects" is narrowed on the server instead of listing a namespace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_OPERATORS = {"In": "in", "NotIn": "notin"}


def selector_query(selector: Mapping[str, Any] | None) -> str | None:
    """`app=web,tier in (a,b),!legacy` for a LabelSelector; None when it selects everything
    (empty or absent) or uses an operator this function does not know."""
    if not selector:
        return None
    terms = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = str(expression.get("key", "")), str(expression.get("operator", ""))
        values = ",".join(sorted(str(v) for v in expression.get("values") or []))
        if operator in _OPERATORS:
            terms.append(f"{key} {_OPERATORS[operator]} ({values})")
        elif operator == "Exists":
            terms.append(key)
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
        else:
            return None
    return ",".join(terms) or None
