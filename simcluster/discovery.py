"""Discovery documents: what `/version`, `/api`, `/apis` and the group/version resource lists say.

kubectl and the official clients read these to map a kind or short name to a REST path and
to learn which subresources (scale, eviction, status, log) exist. The aggregated discovery
format is not served: clients that ask for it accept the plain documents as a fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simcluster.store import RESOURCES, ResourceType

Obj = dict[str, Any]

SERVER_VERSION: Obj = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0-simcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Kinds `kubectl get all` shows.
_ALL_CATEGORY = frozenset(
    {
        "Pod",
        "Service",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
    }
)
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "eviction": ("create",),
    "log": ("get",),
}


def group_versions(types: Sequence[ResourceType] = RESOURCES) -> dict[str, list[str]]:
    """Every API group (core is "") with its versions, in the order of `types` (a store's
    `types.all()`, custom resources included; the built-in ones by default)."""
    out: dict[str, list[str]] = {}
    for rt in types:
        versions = out.setdefault(rt.group, [])
        if rt.version not in versions:
            versions.append(rt.version)
    return out


def _subresource_entry(rt: ResourceType, sub: str) -> Obj:
    entry: Obj = {
        "name": f"{rt.plural}/{sub}",
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",))),
    }
    if sub == "scale":
        entry.update(kind="Scale", group="autoscaling", version="v1")
    elif sub == "eviction":
        entry.update(kind="Eviction", group="policy", version="v1")
    return entry


def resource_list(group: str, version: str, types: Sequence[ResourceType] = RESOURCES) -> Obj | None:
    """The `APIResourceList` of one group version, or None if it is not served."""
    kinds = [rt for rt in types if rt.group == group and rt.version == version]
    if not kinds:
        return None
    resources: list[Obj] = []
    for rt in kinds:
        entry: Obj = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.kind in _ALL_CATEGORY:
            entry["categories"] = ["all"]
        resources.append(entry)
        resources.extend(_subresource_entry(rt, sub) for sub in rt.subresources)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def core_versions(types: Sequence[ResourceType] = RESOURCES) -> Obj:
    """The `APIVersions` document at `/api`."""
    return {
        "kind": "APIVersions",
        "versions": group_versions(types).get("", []),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group(group: str, types: Sequence[ResourceType] = RESOURCES) -> Obj | None:
    """The `APIGroup` document of one named group, or None."""
    versions = group_versions(types).get(group)
    if not group or not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_groups(types: Sequence[ResourceType] = RESOURCES) -> Obj:
    """The `APIGroupList` document at `/apis`."""
    groups = [api_group(g, types) for g in group_versions(types) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g is not None]}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_root(types: Sequence[ResourceType] = RESOURCES) -> Obj:
    """The OpenAPI v3 index at `/openapi/v3`: one document per group version."""
    paths = {}
    for group, versions in group_versions(types).items():
        for version in versions:
            gv = _gv_path(group, version)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash=simcluster"}
    return {"paths": paths}


def openapi_v3_document(gv_path: str, types: Sequence[ResourceType] = RESOURCES) -> Obj | None:
    """A minimal OpenAPI v3 document for one group version.

    It lists each object path's PATCH operation with its group-version-kind and the
    `fieldValidation` parameter: that is what kubectl checks to leave validation to the server
    (and so not need the full schemas a real server publishes).
    """
    found = [(g, v) for g, vs in group_versions(types).items() for v in vs if _gv_path(g, v) == gv_path.strip("/")]
    if not found:
        return None
    group, version = found[0]
    paths: Obj = {}
    for rt in types:
        if (rt.group, rt.version) != (group, version):
            continue
        scope = "/namespaces/{namespace}" if rt.namespaced else ""
        paths[f"/{gv_path.strip('/')}{scope}/{rt.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{rt.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": rt.kind},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0-simcluster"},
        "paths": paths,
        "components": {"schemas": {}},
    }
