"""The three patch formats a Kubernetes API server accepts.

- JSON merge patch (RFC 7386): maps merge, `null` deletes, lists are replaced.
- JSON patch (RFC 6902): a list of add/remove/replace/move/copy/test operations.
- Strategic merge patch: a merge patch that merges the lists Kubernetes marks with a merge
  key (containers by name, ports by port, env by name, ...) and understands the `$patch`,
  `$setElementOrder`, `$deleteFromPrimitiveList` and `$retainKeys` directives.

Every function returns a new document and leaves its inputs untouched.
"""

from __future__ import annotations

import copy
from typing import Any

from simcluster.errors import BadRequest, Invalid

Obj = dict[str, Any]

# Lists merged item by item, by field name -> merge key ("ports" is decided by its items).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "addresses": "type",
}
# Lists of scalars merged as sets.
MERGE_PRIMITIVE_LISTS: frozenset[str] = frozenset({"finalizers"})

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: Obj = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# --- RFC 6902 ----------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], part: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(container)
    if not part.isdigit():
        raise Invalid(f"invalid array index {part!r}")
    index = int(part)
    if index > len(container) or (index == len(container) and not allow_end):
        raise Invalid(f"array index {index} out of bounds")
    return index


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")
    return node


def _get(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise Invalid("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise Invalid(f"unable to remove nonexistent key: {last}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")


def _add(doc: Any, tokens: list[str], value: Any, *, replace: bool = False) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise Invalid(f"replace operation does not apply: doc is missing key: /{'/'.join(tokens)}")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, allow_end=False)] = value
        else:
            parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise Invalid(f"doc is missing path: /{'/'.join(tokens)}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operations)."""
    if not isinstance(operations, list):
        raise BadRequest("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise BadRequest(f"invalid JSON patch operation: {op!r}")
        kind, tokens = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
        elif kind == "replace":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if _get(doc, tokens) != op.get("value"):
                raise Invalid(f"testing value {op['path']} failed")
        else:
            raise BadRequest(f"unexpected JSON patch operation {kind!r}")
    return doc


# --- strategic merge patch ---------------------------------------------------------------


def _merge_key(field: str, original: list[Any], patch: list[Any]) -> str | None:
    if field == "ports":
        items = [i for i in [*original, *patch] if isinstance(i, dict)]
        return "containerPort" if any("containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field)


def _merge_keyed_list(original: list[Any], patch: list[Any], key: str, order: list[Any] | None) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    result = [copy.deepcopy(i) for i in original]
    for item in patch:
        if not isinstance(item, dict):
            raise BadRequest(f"expected an object in a list merged by {key!r}, got {item!r}")
        position = next((n for n, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is None:
            result.append(_strip(item))
        else:
            result[position] = strategic_merge_patch(result[position], item)
    if order:
        keys = [o.get(key) if isinstance(o, dict) else o for o in order]
        ranked = {k: n for n, k in enumerate(keys)}
        result.sort(key=lambda i: ranked.get(i.get(key) if isinstance(i, dict) else None, len(ranked)))
    return result


def _merge_primitive_list(original: list[Any], patch: list[Any]) -> list[Any]:
    result = list(original)
    result.extend(v for v in patch if v not in result)
    return result


def _strip(value: Any) -> Any:
    """A patch value inserted as new content: drop the directives it may carry."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if not k.startswith(("$patch", "$retainKeys", _ORDER, _DELETE_PRIMITIVE)) and v is not None
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _merge_field(field: str, current: Any, value: Any, order: list[Any] | None) -> Any:
    if isinstance(value, dict):
        return strategic_merge_patch(current if isinstance(current, dict) else {}, value)
    if isinstance(value, list) and isinstance(current, list):
        key = _merge_key(field, current, value)
        if key:
            return _merge_keyed_list(current, value, key, order)
        if field in MERGE_PRIMITIVE_LISTS:
            return _merge_primitive_list(current, value)
    return _strip(value)


def _merge_entries(result: Obj, patch: Obj) -> None:
    """Merge each non-directive field of `patch` into `result` in place."""
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if key.startswith(("$", _ORDER)):
            continue
        merged = None if value is None else _merge_field(key, result.get(key), value, patch.get(_ORDER + key))
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged


def _apply_element_orders(result: Obj, patch: Obj) -> None:
    """`$setElementOrder/<list>` for lists the patch does not otherwise touch."""
    for key, order in patch.items():
        if not key.startswith(_ORDER) or key[len(_ORDER) :] in patch:
            continue
        field = key[len(_ORDER) :]
        current = result.get(field)
        merge_key = _merge_key(field, current, []) if isinstance(current, list) else None
        if isinstance(current, list) and isinstance(order, list) and merge_key:
            result[field] = _merge_keyed_list(current, [], merge_key, order)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a Kubernetes strategic merge patch to a JSON document."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip(patch)
    if directive is not None:
        raise BadRequest(f"unknown patch directive {directive!r}")
    result: Obj = copy.deepcopy(target) if isinstance(target, dict) else {}
    _merge_entries(result, patch)
    _apply_element_orders(result, patch)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def apply_patch(content_type: str, target: Obj, body: Any) -> Obj:
    """Apply a patch by its request Content-Type; 415-like BadRequest for an unknown one."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == "application/json-patch+json":
        result = json_patch(target, body)
    elif media == "application/merge-patch+json":
        result = json_merge_patch(target, body)
    elif media in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
        result = strategic_merge_patch(target, body)
    else:
        raise BadRequest(f"unsupported patch content type {content_type!r}")
    if not isinstance(result, dict):
        raise Invalid("the patch did not produce an object")
    return result
