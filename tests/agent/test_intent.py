"""Judging a write by its recorded intent: applied, not applied, or unknowable."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.intent import Effect, combined, intent_of, judge, read_path

DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/web"


def _deployment(replicas: int, image: str = "web:1") -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "uid": "u1", "resourceVersion": "7", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}},
        "status": {"replicas": replicas},
    }


def test_a_merge_patch_is_applied_not_applied_or_unknown() -> None:
    before = _deployment(2)
    intent = intent_of("PATCH", DEPLOY, {"spec": {"replicas": 3}}, before)
    assert judge(intent, _deployment(3)) is Effect.APPLIED
    assert judge(intent, _deployment(2)) is Effect.NOT_APPLIED
    assert judge(intent, _deployment(5)) is Effect.UNKNOWN
    assert judge(intent, None) is Effect.UNKNOWN


def test_a_replace_ignores_server_defaults_but_not_other_changes() -> None:
    before = _deployment(2, "web:2")
    body = _deployment(2, "web:1")
    intent = intent_of("PUT", DEPLOY, body, before)
    defaulted = copy.deepcopy(body)
    defaulted["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    defaulted["metadata"]["resourceVersion"] = "8"
    assert judge(intent, defaulted) is Effect.APPLIED
    assert judge(intent, before) is Effect.NOT_APPLIED
    assert judge(intent, _deployment(2, "web:3")) is Effect.UNKNOWN


def test_configmap_data_is_compared_exactly() -> None:
    path = "/api/v1/namespaces/shop/configmaps/cfg"
    before = {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}}
    intent = intent_of("PUT", path, {"metadata": {"name": "cfg"}, "data": {"a": "0"}}, before)
    assert judge(intent, {"metadata": {"name": "cfg"}, "data": {"a": "0"}}) is Effect.APPLIED
    assert judge(intent, {"metadata": {"name": "cfg"}, "data": {"a": "0", "b": "2"}}) is Effect.UNKNOWN
    assert judge(intent, before) is Effect.NOT_APPLIED


def test_create_delete_and_eviction() -> None:
    collection = "/api/v1/namespaces/shop/services"
    created = intent_of("POST", collection, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}, None)
    assert created["read"] == f"{collection}/svc"
    assert judge(created, None) is Effect.NOT_APPLIED
    assert judge(created, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}) is Effect.APPLIED
    pod = {"metadata": {"name": "p", "uid": "u1"}}
    evicted = intent_of("POST", "/api/v1/namespaces/shop/pods/p/eviction", {"metadata": {"name": "p"}}, pod)
    assert read_path("POST", "/api/v1/namespaces/shop/pods/p/eviction", {}) == "/api/v1/namespaces/shop/pods/p"
    assert judge(evicted, pod) is Effect.NOT_APPLIED
    assert judge(evicted, None) is Effect.APPLIED
    assert judge(evicted, {"metadata": {"name": "p", "uid": "u2"}}) is Effect.APPLIED


def test_combined_effect_of_several_writes() -> None:
    assert combined([]) is Effect.NOT_APPLIED
    assert combined([Effect.APPLIED, Effect.NOT_APPLIED]) is Effect.APPLIED
    assert combined([Effect.APPLIED, Effect.UNKNOWN]) is Effect.UNKNOWN


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


leaves = st.one_of(st.integers(-3, 3), st.text(max_size=3), st.booleans())
objects = st.recursive(
    st.dictionaries(st.sampled_from("abcd"), leaves, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from("abcd"), st.one_of(leaves, inner), max_size=3),
    max_leaves=10,
)
patches = st.recursive(
    st.dictionaries(st.sampled_from("abcd"), st.one_of(leaves, st.none()), min_size=1, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from("abcd"), st.one_of(leaves, inner), min_size=1, max_size=3),
    max_leaves=8,
)


@given(before=objects, patch=patches)
def test_a_merge_patch_is_judged_applied_after_it_and_not_applied_before_it(before: Any, patch: Any) -> None:
    intent = intent_of("PATCH", DEPLOY, patch, before)
    after = _merge(before, patch)
    assert judge(intent, after) is Effect.APPLIED
    if after != before:
        assert judge(intent, before) is Effect.NOT_APPLIED
