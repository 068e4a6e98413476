"""The compact store: what goes in comes back equal and read-only; indexes answer like a full scan."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.compact import Codec, KindStore, RecentObjects, encode, head_of, split_list

Obj = dict[str, Any]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)
names = st.text(alphabet="abcdefgh-0123", min_size=1, max_size=6)
label_sets = st.dictionaries(
    st.sampled_from(["app", "tier", "team"]), st.sampled_from(["web", "api", "db"]), max_size=3
)


def _pod(name: str, namespace: str, labels: dict[str, str], *, node: str = "", owner: str = "") -> Obj:
    metadata: Obj = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        metadata["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": owner, "controller": True}]
    return {"kind": "Pod", "metadata": metadata, "spec": {"nodeName": node} if node else {}}


def _assert_read_only(value: Any) -> None:
    if isinstance(value, dict):
        with pytest.raises(TypeError):
            value["x"] = 1
        for item in value.values():
            _assert_read_only(item)
    elif isinstance(value, list):
        with pytest.raises(TypeError):
            value.append(1)
        for item in value:
            _assert_read_only(item)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5), st.lists(json_values, max_size=3))
def test_any_json_object_put_then_read_is_equal_and_read_only(extra: Obj, samples: list[Any]) -> None:
    obj: Obj = {**extra, "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}}
    codec = Codec.from_samples("ConfigMap", [encode(s) for s in samples])
    store = KindStore(codec)
    key = store.put(obj, 1)
    assert key == ("shop", "cfg")
    read = codec.unpack(store.entries[key].blob)
    assert read == obj
    assert json.loads(json.dumps(read)) == json.loads(json.dumps(obj))
    _assert_read_only(read)


def test_a_listed_item_gets_the_kind_and_api_version_the_list_leaves_out() -> None:
    body = json.dumps(
        {"metadata": {"resourceVersion": "42"}, "items": [{"metadata": {"name": "web", "namespace": "shop"}}]}
    ).encode()
    items, version = split_list(body)
    assert version == "42"
    codec = Codec.from_samples("Deployment", items, api_version="apps/v1")
    store = KindStore(codec)
    key = store.put_json(items[0], 1)
    assert codec.unpack(store.entries[key].blob) == {
        "metadata": {"name": "web", "namespace": "shop"},
        "kind": "Deployment",
        "apiVersion": "apps/v1",
    }


def test_a_preset_dictionary_shrinks_objects_like_the_first_ones() -> None:
    pods = [encode(_pod(f"web-{i}", "shop", {"app": "web", "tier": "front"}, node=f"n{i % 3}")) for i in range(50)]
    plain, primed = Codec("Pod"), Codec.from_samples("Pod", pods[:10])
    assert sum(len(primed.pack(p)) for p in pods) < sum(len(plain.pack(p)) for p in pods) / 2
    assert all(primed.json(primed.pack(p)) == p for p in pods)
    assert len(primed.zdict) <= 32 * 1024


def test_heads_of_odd_objects_are_read_the_slow_way() -> None:
    odd = {"metadata": {"name": "x", "labels": {"n": 1}, "ownerReferences": [{"uid": "u", "controller": True}]}}
    head = head_of(encode(odd))
    assert head.key == ("", "x")
    assert head.labels == ("n", "1")
    assert head.owner_uid == "u"
    with pytest.raises(ValueError, match="JSON object"):
        head_of(b"[1, 2]")
    with pytest.raises(ValueError, match="not a list"):
        split_list(b"{")


pods = st.lists(
    st.tuples(
        st.sampled_from(["shop", "other", ""]),
        names,
        label_sets,
        st.sampled_from(["", "n1", "n2"]),
        st.sampled_from(["", "u1", "u2"]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    pods,
    st.sampled_from([None, "shop", "other"]),
    label_sets,
    st.sampled_from([None, "n1"]),
    st.sampled_from([None, "u1", "u2"]),
)
def test_selected_reads_equal_a_brute_force_filter(
    specs: list[tuple[str, str, dict[str, str], str, str]],
    namespace: str | None,
    wanted: dict[str, str],
    node: str | None,
    owner: str | None,
) -> None:
    store = KindStore(Codec("Pod"))
    kept: dict[tuple[str, str], Obj] = {}
    for seq, (ns, name, labels, on, uid) in enumerate(specs, 1):
        obj = _pod(name, ns, labels, node=on, owner=uid)
        kept[store.put(obj, seq)] = obj
    for key in list(kept)[::3]:  # some are deleted again
        store.remove(key)
        del kept[key]
    expected = sorted(
        key
        for key, obj in kept.items()
        if (namespace is None or key[0] == namespace)
        and all(obj["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        and (node is None or obj["spec"].get("nodeName") == node)
        and (owner is None or obj["metadata"].get("ownerReferences", [{}])[0].get("uid") == owner)
    )
    picked = store.select(namespace=namespace, labels=wanted, node=node, owner_uid=owner)
    assert [key for key, _ in picked] == expected
    assert [store.codec.unpack(blob) for _, blob in picked] == [kept[key] for key in expected]
    assert len(store) == len(kept)
    assert set(store.changes.values()) == set(kept)
    emptied = all(store.by_namespace.values()) and all(store.by_owner.values()) and all(store.by_node.values())
    assert emptied, "no empty index entries are left behind"


def test_changed_since_walks_in_bounded_steps_oldest_first() -> None:
    store = KindStore(Codec("Pod"))
    for seq in range(1, 11):
        store.put(_pod(f"p{seq}", "shop", {}), seq)
    store.put(_pod("p3", "shop", {"app": "moved"}), 11)
    cursor, seen = 0, []
    while True:
        step, cursor = store.changed_since(cursor, limit=4)
        if not step:
            break
        assert len(step) <= 4
        seen += [key[1] for key, _ in step]
    assert seen == ["p1", "p2", "p4", "p5", "p6", "p7", "p8", "p9", "p10", "p3"]
    assert cursor == 11
    assert store.changed_since(11) == ([], 11)


def test_recent_objects_are_decoded_once_and_dropped_when_replaced() -> None:
    codec = Codec("Pod")
    store = KindStore(codec)
    key = store.put(_pod("a", "shop", {"app": "web"}), 1)
    recent = RecentObjects(capacity=2)
    first = recent.read(codec, key, store.entries[key].blob)
    assert recent.read(codec, key, store.entries[key].blob) is first
    assert recent.decodes == 1
    store.put(_pod("a", "shop", {"app": "api"}), 2)
    changed = recent.read(codec, key, store.entries[key].blob)
    assert changed["metadata"]["labels"] == {"app": "api"}, "a replaced object is never served from the cache"
    for n in "bcd":
        other = store.put(_pod(n, "shop", {}), 3)
        recent.read(codec, other, store.entries[other].blob)
    assert len(recent) == 2
    unkept = recent.read(codec, key, store.entries[key].blob, keep=False)
    assert unkept == changed
    assert len(recent) == 2
