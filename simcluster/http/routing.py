"""Map a Kubernetes REST path to the resource, namespace, name and subresource it addresses."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from simcluster.resource_registry import ResourceRegistry
from simcluster.store import RESOURCES, ResourceType

_BY_PATH: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}


@dataclass(frozen=True)
class ResourceRoute:
    """A request path resolved to a resource type and, optionally, one object and a subresource."""

    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _group_version(parts: list[str]) -> tuple[str, str, list[str]] | None:
    if len(parts) >= 2 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def resolve(path: str, types: ResourceRegistry | None = None) -> ResourceRoute | None:
    """The resource a path addresses, or None if it is not a resource path we serve (`types`: the
    store's registry, custom resources included; built-in types only without it)."""

    def lookup(group: str, version: str, plural: str) -> ResourceType | None:
        return types.by_path(group, version, plural) if types is not None else _BY_PATH.get((group, version, plural))

    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    found = _group_version(parts)
    if found is None:
        return None
    group, version, rest = found
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and lookup(group, version, rest[2]) is not None:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = lookup(group, version, rest[0])
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) == 3 else None
    if subresource is not None and subresource not in resource.subresources:
        return None
    return ResourceRoute(resource, namespace, name, subresource)
