"""The closed registry: exactly the nine actions, keyed by ActionName, built from explicit imports.

There is no package scanning and no run-time registration. Importing this module fails on a
duplicate, an unknown name, a missing name or a tenth entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from actions.base import Action, ActionName, ActionParams, Permission
from actions.drain_node import DrainNode
from actions.evict_pod import EvictPod
from actions.owner_pause import PAUSE_PERMISSIONS
from actions.restart_workload import RestartWorkload
from actions.restore_configmap import RestoreConfigMap
from actions.restore_service import RestoreService
from actions.rollback_workload import RollbackWorkload
from actions.scale_workload import ScaleWorkload
from actions.set_resources import SetResources
from actions.suspend_cronjob import SuspendCronJob


class RegistryError(Exception):
    """The registry is not exactly the nine named actions."""


class UnknownActionError(KeyError):
    """A name that is not one of the nine actions."""

    def __init__(self, name: str) -> None:
        known = ", ".join(n.value for n in ActionName)
        super().__init__(f"unknown action {name!r}; the registry holds only: {known}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


def build_registry(actions: Iterable[Action[Any]]) -> Mapping[ActionName, Action[Any]]:
    """A read-only registry of exactly the nine actions; RegistryError for anything else."""
    entries: dict[ActionName, Action[Any]] = {}
    for action in actions:
        raw = getattr(action, "name", None)
        try:
            name = ActionName(str(raw))
        except ValueError:
            raise RegistryError(f"{type(action).__name__} has unknown action name {raw!r}") from None
        if name in entries:
            raise RegistryError(
                f"duplicate action {name.value!r}: {type(entries[name]).__name__} and {type(action).__name__}"
            )
        entries[name] = action
    missing = [n.value for n in ActionName if n not in entries]
    if missing:
        raise RegistryError(f"missing actions: {', '.join(missing)}")
    return MappingProxyType(entries)


REGISTRY: Mapping[ActionName, Action[Any]] = build_registry(
    [
        RestartWorkload(),
        ScaleWorkload(),
        RollbackWorkload(),
        RestoreConfigMap(),
        RestoreService(),
        SetResources(),
        EvictPod(),
        DrainNode(),
        SuspendCronJob(),
    ]
)
"""The nine actions Scutum can ever take."""


def get_action(name: str | ActionName) -> Action[Any]:
    """The action of that name; UnknownActionError for anything outside the registry."""
    try:
        return REGISTRY[ActionName(name)]
    except ValueError:
        raise UnknownActionError(str(name)) from None


def params_schema(name: str | ActionName) -> dict[str, Any]:
    """The JSON schema of the action's params (descriptions from the field docstrings)."""
    return get_action(name).params_model.model_json_schema()


def catalog() -> list[dict[str, Any]]:
    """Every action as plain data: name, summary, params schema, reversibility, scope, permissions."""
    return [
        {
            "name": action.name.value,
            "summary": action.summary,
            "params_schema": action.params_model.model_json_schema(),
            "reversibility": action.profile.reversibility.value,
            "scope": action.profile.scope.value,
            "permissions": [_permission_dict(p) for p in action.permissions],
        }
        for action in REGISTRY.values()
    ]


def parse_invocation(name: str, params: Mapping[str, Any]) -> tuple[Action[Any], ActionParams]:
    """Look the action up and validate its params; pydantic's ValidationError names the bad field."""
    action = get_action(name)
    return action, action.parse(params)


def merge_permissions(permissions: Iterable[Permission]) -> list[Permission]:
    """One rule per (group, resource) with the union of verbs, sorted: the shape of an RBAC role."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for permission in permissions:
        verbs.setdefault((permission.group, permission.resource), set()).update(permission.verbs)
    return [Permission(group, resource, tuple(sorted(v))) for (group, resource), v in sorted(verbs.items())]


def action_permissions(action: Action[Any]) -> tuple[Permission, ...]:
    """What one action needs: its own permissions, and the owner-pause step's when an owner may
    revert its change (the `pause-then-act` policy runs that step before the action)."""
    return (*action.permissions, *(PAUSE_PERMISSIONS if action.owner_may_revert else ()))


def required_permissions() -> list[Permission]:
    """The union of every action's permissions, merged and sorted: the source of the chart's RBAC."""
    return merge_permissions(p for action in REGISTRY.values() for p in action_permissions(action))


def _permission_dict(permission: Permission) -> dict[str, Any]:
    return {"group": permission.group, "resource": permission.resource, "verbs": list(permission.verbs)}
