"""Every registered action declares what is specific to it, in its own module, and the generated
and written places that list actions know it. A tenth action fails here until it is complete
(docs/architecture.md, "Adding an action", lists the same places)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.base import Action, ActionName, RiskHints
from actions.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DECLARED = ("name", "summary", "params_model", "profile", "permissions")
"""Class attributes each action module sets itself."""
IMPLEMENTED = ("target", "preconditions", "execute", "verify", "inverse", "risk_hints")
"""Methods each action module implements itself."""

EXAMPLES: dict[ActionName, dict[str, Any]] = {
    ActionName.RESTART_WORKLOAD: {"kind": "Deployment", "namespace": "shop", "name": "web", "restart_token": "t1"},
    ActionName.SCALE_WORKLOAD: {"kind": "Deployment", "namespace": "shop", "name": "web", "replicas": 3},
    ActionName.ROLLBACK_WORKLOAD: {
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "before": "2026-11-25T09:00:00Z",
    },
    ActionName.RESTORE_CONFIGMAP: {"namespace": "shop", "name": "web-config", "before": "2026-11-25T09:00:00Z"},
    ActionName.RESTORE_SERVICE: {"namespace": "shop", "name": "web", "before": "2026-11-25T09:00:00Z"},
    ActionName.SET_RESOURCES: {
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "container": "app",
        "memory_limit": "512Mi",
    },
    ActionName.EVICT_POD: {"namespace": "shop", "name": "web-1"},
    ActionName.DRAIN_NODE: {"name": "node-1", "evict_pods": True},
    ActionName.SUSPEND_CRONJOB: {"namespace": "shop", "name": "report"},
}
"""One valid invocation per action: a new action needs one here."""


def test_every_action_has_an_example_invocation() -> None:
    assert set(EXAMPLES) == set(ActionName) == set(REGISTRY)


@pytest.mark.parametrize("name", list(ActionName), ids=str)
def test_the_action_module_declares_what_is_specific_to_it(name: ActionName) -> None:
    action: Action[Any] = REGISTRY[name]
    cls = type(action)
    missing = [a for a in (*DECLARED, *IMPLEMENTED) if a not in vars(cls)]
    assert not missing, f"{cls.__name__} inherits instead of declaring: {missing}"
    params = action.parse(EXAMPLES[name])
    assert isinstance(action.risk_hints(params), RiskHints)
    assert action.permissions, f"{name} needs at least one permission"
    fields = action.params_model.model_json_schema()["properties"]
    undocumented = [f for f, spec in fields.items() if not spec.get("description") and "$ref" not in spec]
    assert not undocumented, f"{name}: params without a field docstring: {undocumented}"


@pytest.mark.parametrize("name", list(ActionName), ids=str)
def test_the_action_is_in_the_chart_rbac_and_the_docs(name: ActionName) -> None:
    action = REGISTRY[name]
    rules = yaml.safe_load((ROOT / "deploy/helm/scutum/files/rbac-rules.yaml").read_text(encoding="utf-8"))
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in rules["cluster"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    for permission in action.permissions:
        assert set(permission.verbs) <= granted.get((permission.group, permission.resource), set()), permission
    for doc in ("actions.md", "risk-model.md", "runbooks.md"):
        assert f"`{name.value}`" in (ROOT / "docs" / doc).read_text(encoding="utf-8"), f"docs/{doc} lacks {name}"
