"""The resource types one simulated API server serves: the built-in ones, the
CustomResourceDefinition type itself, and every type a stored CRD defines.

Custom types are derived from the stored CustomResourceDefinition objects on each lookup
(cached by the store's resourceVersion), so creating, changing or deleting a CRD takes effect
at once, with no hook on the write path. The store, the router and discovery all ask this
registry, so a custom resource is created, read, listed, watched, patched and discovered like
a built-in one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store builds the registry: no import of it at run time
    from simcluster.store import ResourceType

Obj = dict[str, Any]
CRD_KIND = "CustomResourceDefinition"

CrdSource = Callable[[], tuple[int, list[Obj]]]
"""Returns the store's resourceVersion and its stored CRD objects."""


def crd_type(crd: Obj, make: Callable[..., ResourceType]) -> ResourceType | None:
    """The resource type one CRD defines (its storage version, else its first served one), or None
    when the CRD is incomplete."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind, plural, group = names.get("kind"), names.get("plural"), spec.get("group")
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True)]
    if not (kind and plural and group and versions):
        return None
    version = next((v for v in versions if v.get("storage")), versions[0])
    subresources = tuple(sorted(k for k in (version.get("subresources") or {}) if k in ("status", "scale")))
    return make(
        str(kind),
        str(group),
        str(version.get("name", "v1")),
        str(plural),
        spec.get("scope", "Namespaced") == "Namespaced",
        tuple(str(s) for s in names.get("shortNames") or ()),
        subresources,
    )


class ResourceRegistry:
    """Built-in types plus the custom ones the stored CRDs define."""

    def __init__(self, builtin: Iterable[ResourceType], crds: CrdSource, *, make: Callable[..., ResourceType]) -> None:
        self._builtin = tuple(builtin)
        self._make = make
        self._by_kind = {r.kind: r for r in self._builtin}
        self._crds = crds
        self._lock = threading.Lock()
        self._seen_rv = -1
        self._custom: dict[str, ResourceType] = {}

    def _custom_types(self) -> dict[str, ResourceType]:
        rv, crds = self._crds()
        with self._lock:
            if rv != self._seen_rv:
                found = (crd_type(c, self._make) for c in crds)
                self._custom = {t.kind: t for t in found if t is not None and t.kind not in self._by_kind}
                self._seen_rv = rv
            return self._custom

    def get(self, kind: str) -> ResourceType | None:
        """The type of that kind, or None when neither built in nor defined by a CRD."""
        return self._by_kind.get(kind) or self._custom_types().get(kind)

    def all(self) -> tuple[ResourceType, ...]:
        """Every served type, built-in ones first (the order of discovery)."""
        return (*self._builtin, *sorted(self._custom_types().values(), key=lambda t: (t.group, t.kind)))

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at `/apis/<group>/<version>/<plural>` (core: group "")."""
        return next((t for t in self.all() if (t.group, t.version, t.plural) == (group, version, plural)), None)

    def is_builtin(self, kind: str) -> bool:
        """True for the types the server knows without a CRD."""
        return kind in self._by_kind
