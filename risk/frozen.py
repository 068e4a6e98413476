"""Read-only JSON values: what the watch cache hands out instead of a deep copy per read.

A cached object is frozen when it is decoded (`risk.compact`); the recently read ones are kept,
so a repeated read returns the same frozen object and no caller can change the cache behind its
back. `FrozenDict` and `FrozenList` are `dict` and `list` subclasses (JSON encoding, equality
and `isinstance` checks work as before); any change raises `TypeError`. A caller that wants to
edit an object takes `thaw(obj)` (or `copy.deepcopy(obj)`), a plain mutable copy.
"""

from __future__ import annotations

from typing import Any, NoReturn

Obj = dict[str, Any]


def _refuse(*_args: object, **_kwargs: object) -> NoReturn:
    raise TypeError("cached objects are read-only: take thaw(obj) or copy.deepcopy(obj) to change a copy")


class FrozenDict(dict[str, Any]):
    """A dict that refuses every change."""

    __slots__ = ()
    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    update = _refuse

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value when the key is present (no change); a change is refused."""
        if key in self:
            return self[key]
        _refuse()

    def __copy__(self) -> Obj:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Obj:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (thaw(self),))


class FrozenList(list[Any]):
    """A list that refuses every change."""

    __slots__ = ()
    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse
    __imul__ = _refuse
    append = _refuse
    clear = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (thaw(self),))


def freeze(value: Any) -> Any:
    """`value` with every dict and list inside made read-only (scalars are shared)."""
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, dict):
        return _freeze_dict(value)
    if isinstance(value, list | tuple):
        return _freeze_list(value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _frozen_item(item: Any) -> Any:
    kind = type(item)
    if kind is dict:
        return _freeze_dict(item)
    if kind is list:
        return _freeze_list(item)
    return freeze(item)


def _freeze_dict(value: dict[Any, Any]) -> FrozenDict:
    # Scalars are taken as they are without a call (most values are); empty containers are
    # shared. Keys are not interned: a decoded object lives only as long as its readers and the
    # cache's recent objects hold it.
    if not value:
        return EMPTY_DICT
    scalars = _SCALARS
    return FrozenDict({str(key): item if type(item) in scalars else _frozen_item(item) for key, item in value.items()})


def _freeze_list(value: list[Any] | tuple[Any, ...]) -> FrozenList:
    if not value:
        return EMPTY_LIST
    scalars = _SCALARS
    return FrozenList([item if type(item) in scalars else _frozen_item(item) for item in value])


EMPTY_DICT = FrozenDict()
"""The one frozen `{}` (it cannot change, so every empty mapping can be this one)."""
EMPTY_LIST = FrozenList()
"""The one frozen `[]`."""


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (possibly frozen) JSON value."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
