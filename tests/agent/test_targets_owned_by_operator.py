"""Resolving an alert's target stops at a custom-resource owner: the workload is the target."""

from __future__ import annotations

from typing import Any

from actions.kube import RESOURCES, PermanentError
from agent.planning.targets import ObjectRef, TargetResolver
from tests.risk.fakes import FakeReader

Obj = dict[str, Any]


class KindCheckingReader(FakeReader):
    """Refuses kinds the adapter does not handle, as `actions.kube.Kube` does."""

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        if kind not in RESOURCES:
            raise PermanentError(f"kind {kind!r} is not one Scutum handles")
        return super().try_get(kind, name, namespace)


def _owned(kind: str, name: str, owner: Obj) -> Obj:
    return {"kind": kind, "metadata": {"name": name, "namespace": "db", "ownerReferences": [owner]}}


def test_an_operator_owned_statefulset_is_the_target() -> None:
    custom = {"apiVersion": "db.example.com/v1", "kind": "LedgerCluster", "name": "ledger", "controller": True}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ledger", "controller": True}
    reader = KindCheckingReader([_owned("Pod", "ledger-0", sts), _owned("StatefulSet", "ledger", custom)])
    resolved = TargetResolver(reader).resolve(ObjectRef("Pod", "ledger-0", "db"))
    assert (resolved.kind, resolved.name) == ("StatefulSet", "ledger")
    assert resolved.obj is not None
