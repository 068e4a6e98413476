"""The action reference (docs/actions.md), generated from the registry and never edited by hand.

Run `python -m actions.reference` (or `make docs`) to rewrite the file; a test fails when it drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from actions.base import Action
from actions.registry import REGISTRY, action_permissions

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "actions.md"
"""Where the generated reference lives in the repository."""

INVERSES: dict[str, str] = {
    "restart_workload": "none needed: the restart only makes the controller roll its pods",
    "scale_workload": "scale_workload back to the previous replicas, or the HPA's previous bounds (`hpa_bounds`)",
    "rollback_workload": "rollback_workload with `to_revision` = the replaced revision (or, with no history, "
    "`before` = the time of the rollback, whose newest snapshot is the replaced template)",
    "restore_configmap": "restore_configmap with `before` = the time of the restore: the snapshot keeper's newest "
    "version before it is the replaced one",
    "restore_service": "restore_service with `before` = the time of the restore; none when the Service was re-created",
    "set_resources": "set_resources with the previous values of the fields that changed",
    "evict_pod": "none: the pod's controller recreates it",
    "drain_node": "drain_node with `cordon: false` (uncordon), when this run cordoned the node; evictions stay",
    "suspend_cronjob": "suspend_cronjob with the opposite `suspend`",
}
"""How each action is undone, in words (the code is each module's `inverse`)."""

CHECKLIST = """\
## Adding an action by pull request

The registry is closed: a new action is a reviewed change to the product, never a plugin.

- [ ] Add its name to `ActionName` in `actions/base.py` (the registry refuses a name it does not know).
- [ ] Write one module, `actions/<name>.py`: a frozen, strict `Params` model with attribute docstrings
      (DNS-1123 names, bounded numbers), `profile`, `permissions` (every verb it uses, reads included),
      `preconditions` (pure, over `actions.facts.Facts` and `ActionLimits`; caps checked by the same
      function inside `execute`), `execute` (server-side dry run first, idempotent), `verify`, `inverse`,
      `risk_hints` (its `Disruption` and the rest of `RiskHints`), and `known_good_cutoff` when it restores
      history. A new `Disruption` kind makes mypy flag every `match` that must handle it.
- [ ] Import it and add an instance in `actions/registry.py` (explicit imports; no scanning).
- [ ] Write `tests/actions/test_<name>.py` against simcluster over HTTP: the effect, `verify`, the inverse,
      a dry run changing nothing, a second run changing nothing more, bad params rejected, each
      precondition failing.
- [ ] Add it to the pinned set in `tests/actions/test_registry.py` and an example invocation in
      `tests/actions/test_declarations.py` (which fails until everything below is done).
- [ ] If the probes must read something new for its preconditions, add the field to `actions/facts.py` and
      read it in `risk/probes.py`.
- [ ] Regenerate this reference: `make docs` (CI fails when docs/actions.md drifts).
- [ ] Regenerate the chart's RBAC (the same `make docs`) and review the new verbs in the diff.
- [ ] Add its worked precondition example to `tests/risk/precondition_examples.py` and regenerate the section
      of docs/risk-model.md; add a runbook rule (`agent/planning/default_runbook.yaml`) or say in
      docs/runbooks.md why it has none.
"""


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    text = str(prop.get("type", "any"))
    if prop.get("format"):
        text += f" ({prop['format']})"
    return text


def _bounds(prop: dict[str, Any]) -> str:
    parts = []
    for key, label in (("minimum", ">="), ("maximum", "<="), ("maxLength", "max length")):
        if key in prop:
            parts.append(f"{label} {prop[key]}")
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    return "; ".join(parts)


def _params_table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required") or [])
    defs = schema.get("$defs") or {}
    lines = ["| param | type | required | default | constraints | description |", "|---|---|---|---|---|---|"]
    for name, raw in (schema.get("properties") or {}).items():
        ref = str(raw.get("$ref", "")).rsplit("/", 1)[-1]
        prop = {**defs[ref], "description": raw.get("description", "")} if "enum" in defs.get(ref, {}) else raw
        default = f"`{prop['default']}`".replace("`None`", "`null`") if "default" in prop else ""
        description = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
        cells = [f"`{name}`", _type_of(prop), "yes" if name in required else "no", default, _bounds(prop), description]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _section(action: Action[Any]) -> list[str]:
    schema = action.params_model.model_json_schema()
    lines = [f"## `{action.name.value}`", "", action.summary, ""]
    lines += [
        f"- reversibility: `{action.profile.reversibility.value}`",
        f"- scope: `{action.profile.scope.value}`",
        f"- inverse: {INVERSES[action.name.value]}",
        "",
        "Params:",
        "",
        *_params_table(schema),
        "",
        "Kubernetes permissions:",
        "",
        "| API group | resource | verbs |",
        "|---|---|---|",
    ]
    for permission in action_permissions(action):
        group = permission.group or '"" (core)'
        lines.append(f"| {group} | {permission.resource} | {', '.join(permission.verbs)} |")
    return [*lines, ""]


def render_reference() -> str:
    """The whole of docs/actions.md, from the registry."""
    lines = [
        "# Actions",
        "",
        "<!-- Generated by `python -m actions.reference` (`make docs`) from the registry; do not edit. -->",
        "",
        "Scutum can do exactly these nine things to a cluster. Every action validates its params, checks its",
        "preconditions against the cluster, sends a server-side dry run before the real write, is idempotent",
        "(a second run changes nothing more and says so), verifies its effect, and names its inverse.",
        "",
        "| action | reversibility | scope | summary |",
        "|---|---|---|---|",
    ]
    for action in REGISTRY.values():
        profile = action.profile
        lines.append(
            f"| `{action.name.value}` | {profile.reversibility.value} | {profile.scope.value} | {action.summary} |"
        )
    lines.append("")
    for action in REGISTRY.values():
        lines += _section(action)
    return "\n".join(lines) + "\n" + CHECKLIST


def write_reference(path: Path = DOC_PATH) -> Path:
    """Write the reference to `path` (docs/actions.md by default)."""
    path.write_text(render_reference(), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_reference()}\n")
