"""Frozen JSON values: equal to what they freeze, encoded the same, and never changed in place."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.frozen import FrozenDict, FrozenList, freeze, thaw

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_freezing_keeps_the_value_and_thawing_gives_it_back(value: Any) -> None:
    frozen = freeze(value)
    assert frozen == value
    assert json.dumps(frozen, sort_keys=True) == json.dumps(value, sort_keys=True)
    assert thaw(frozen) == value
    assert copy.deepcopy(frozen) == value
    assert pickle.loads(pickle.dumps(frozen)) == value


@given(st.dictionaries(st.text(max_size=4), json_values, min_size=1, max_size=4))
def test_no_change_goes_through(value: dict[str, Any]) -> None:
    frozen = freeze({"outer": value, "items": [value]})
    key = next(iter(value))
    changes = [
        lambda: frozen["outer"].__setitem__(key, 1),
        lambda: frozen["outer"].pop(key),
        lambda: frozen["outer"].update({key: 1}),
        lambda: frozen["outer"].setdefault("missing-key-" * 3, 1),
        lambda: frozen["items"].append(1),
        lambda: frozen["items"].__setitem__(0, 1),
        frozen["items"].sort,
        frozen.clear,
    ]
    for change in changes:
        with pytest.raises(TypeError):
            change()
    assert frozen == {"outer": value, "items": [value]}


def test_a_deep_copy_is_plain_and_mutable() -> None:
    frozen = freeze({"a": [{"b": 1}]})
    assert isinstance(frozen, FrozenDict) and isinstance(frozen["a"], FrozenList)
    copied = copy.deepcopy(frozen)
    assert type(copied) is dict and type(copied["a"]) is list and type(copied["a"][0]) is dict
    copied["a"][0]["b"] = 2
    assert frozen["a"][0]["b"] == 1
    assert frozen.setdefault("a", []) is frozen["a"], "setdefault of a present key changes nothing"
