"""Label selectors as API queries, and revision history read through them (not a namespace list)."""

from __future__ import annotations

import builtins
from typing import Any, cast

import pytest

from actions.base import WorkloadKind
from actions.kube import Kube
from actions.revisions import history
from actions.selectors import selector_query
from risk.sources import owned_by
from simcluster.selectors import LabelSelector

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("selector", "query"),
    [
        (None, None),
        ({}, None),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "api"]},
                    {"key": "env", "operator": "NotIn", "values": ["dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "team", "operator": "Exists"},
                ],
            },
            "app=web,tier in (api,front),env notin (dev),!canary,team",
        ),
        ({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]}, None),
    ],
)
def test_selector_query_renders_the_api_syntax(selector: Obj | None, query: str | None) -> None:
    assert selector_query(selector) == query


def test_the_rendered_query_selects_what_the_selector_object_selects() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front"]},
            {"key": "old", "operator": "DoesNotExist"},
        ],
    }
    query = selector_query(selector)
    assert query is not None
    for labels in (
        {"app": "web", "tier": "front"},
        {"app": "web", "tier": "back"},
        {"app": "web", "tier": "front", "old": "1"},
    ):
        assert LabelSelector.parse(query).matches(labels) == LabelSelector.from_match_labels(selector).matches(labels)


class RecordingReader:
    """Answers lists from a fixed set and remembers each list's selector."""

    def __init__(self, objects: list[Obj]) -> None:
        self.objects = objects
        self.lists: list[tuple[str, str | None, str | None]] = []

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        raise AssertionError("not used")

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        raise AssertionError("not used")

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> builtins.list[Obj]:
        self.lists.append((kind, namespace, label_selector))
        wanted = LabelSelector.parse(label_selector) if label_selector else None
        return [
            o
            for o in self.objects
            if o["kind"] == kind and (wanted is None or wanted.matches(o["metadata"].get("labels") or {}))
        ]


def _replicaset(name: str, owner_uid: str, app: str) -> Obj:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"app": app},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"uid": owner_uid, "controller": True}],
        },
        "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": []}}},
    }


def test_history_and_owned_by_read_only_what_the_workload_selects() -> None:
    web: Obj = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    reader = RecordingReader([_replicaset("web-1", "u-web", "web"), _replicaset("api-1", "u-api", "api")])

    revisions = history(cast(Kube, reader), WorkloadKind.DEPLOYMENT, web)
    owned = owned_by(reader, "ReplicaSet", "shop", "u-web", selector=selector_query(web["spec"]["selector"]))

    assert [r.name for r in revisions] == ["web-1"]
    assert [o["metadata"]["name"] for o in owned] == ["web-1"]
    assert reader.lists == [("ReplicaSet", "shop", "app=web"), ("ReplicaSet", "shop", "app=web")]
