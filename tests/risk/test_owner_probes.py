"""The probes put the target's owner and each revision's images in the facts."""

from __future__ import annotations

from typing import Any

from actions.owners import OwnerKind
from risk.probes import probe
from tests.risk.builders import INCIDENT, NOW, proposal
from tests.risk.fakes import FakeAlerts, FakeHistory, FakeReader

Obj = dict[str, Any]


def _deployment(labels: dict[str, str]) -> Obj:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:v2"}]}}
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d1", "labels": labels},
        "spec": {"replicas": 1, "template": template},
        "status": {"readyReplicas": 1, "updatedReplicas": 1, "replicas": 1},
    }


def _rs(image: str) -> Obj:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "rs1",
            "creationTimestamp": "2026-11-25T08:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1", "controller": True}],
        },
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def test_probe_reads_the_argocd_owner_and_revision_images() -> None:
    p = proposal(
        "rollback_workload", {"namespace": "shop", "name": "web", "kind": "Deployment", "before": INCIDENT.isoformat()}
    )
    objects = [_deployment({"argocd.argoproj.io/instance": "shop-web"}), _rs("web:v1")]
    facts = probe(p, reader=FakeReader(objects), history=FakeHistory(), alerts=FakeAlerts({"fp-1": True}), now=NOW)
    owner = facts.target.owner
    assert owner is not None and (owner.kind, owner.name) == (OwnerKind.ARGOCD, "shop-web")
    assert facts.revisions is not None
    assert [e.images for e in facts.revisions.history] == [("web:v1",)]


def test_probe_of_an_unowned_target_has_no_owner() -> None:
    p = proposal("scale_workload", {"namespace": "shop", "name": "web", "kind": "Deployment", "replicas": 2})
    facts = probe(
        p, reader=FakeReader([_deployment({})]), history=FakeHistory(), alerts=FakeAlerts({"fp-1": True}), now=NOW
    )
    assert facts.target.owner is None
