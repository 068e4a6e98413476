"""Which stored objects name an owner in their ownerReferences: the index behind controllers'
"what do I own" and cascading deletion, kept in step with every write so neither scans a kind."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
Entry = tuple[str, tuple[str, str]]
"""(kind, (namespace, name)) of a dependent."""


def owner_uids(obj: Obj | None) -> set[str]:
    """The uids of every owner the object names."""
    if obj is None:
        return set()
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return {str(ref["uid"]) for ref in refs if isinstance(ref, dict) and ref.get("uid")}


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's controlling owner, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("uid"))
    return None


class DependentIndex:
    """owner uid -> the (kind, key) of each object that names it."""

    def __init__(self) -> None:
        self._by_owner: dict[str, set[Entry]] = {}

    def replaced(self, entry: Entry, old: Obj | None, new: Obj | None) -> None:
        """The object at `entry` changed from `old` to `new` (None: absent)."""
        old_uids, new_uids = owner_uids(old), owner_uids(new)
        for uid in old_uids - new_uids:
            entries = self._by_owner.get(uid)
            if entries is not None:
                entries.discard(entry)
                if not entries:
                    del self._by_owner[uid]
        for uid in new_uids - old_uids:
            self._by_owner.setdefault(uid, set()).add(entry)

    def dependents(self, uid: str) -> list[Entry]:
        """Who names `uid`, in (kind, namespace, name) order (a copy: safe to change the store while reading)."""
        return sorted(self._by_owner.get(uid, ()))
