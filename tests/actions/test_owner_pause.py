"""pause-then-act against simcluster over HTTP: a rollback on an Argo CD app with self-heal holds
only while automated sync is paused; the pause is restored from the owner's own annotations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from actions.kube import PatchType
from actions.owner_pause import PAUSED_BY, PAUSED_SPEC, pause, paused_by, resume, resume_expired
from actions.owners import OwnerPolicies, OwnerPolicy
from simcluster.controllers.gitops import DESIRED
from simcluster.gitops_objects import application, install_gitops_crds, kustomization
from tests.actions import objects
from tests.actions.conftest import Env

NS = objects.NS
GOOD, BAD = "shop/web:1.0", "shop/web:broken"


def _image(env: Env) -> str:
    return str(env.kube.get("Deployment", "web", NS)["spec"]["template"]["spec"]["containers"][0]["image"])


def _git_push(env: Env, kind: str, namespace: str, name: str, image: str) -> None:
    """A commit to "Git": the owner's desired Deployment now runs `image`."""
    patch = {"metadata": {"annotations": {DESIRED: json.dumps([objects.deployment("web", image=image)])}}}
    env.kube.patch(kind, name, patch, namespace, patch_type=PatchType.MERGE)


def _argo_app_with_bad_rollout(env: Env) -> str:
    """An Argo CD app (self-heal after 5 s) serving GOOD, then BAD pushed to Git; returns `before`."""
    install_gitops_crds(env.sim.cluster.store)
    env.create({"kind": "Namespace", "metadata": {"name": "argocd"}})
    env.create(application("shop-web", [objects.deployment("web", image=GOOD)], heal_seconds=5))
    env.settle()
    env.tick(300)
    before = env.clock.now().isoformat()
    env.tick(1)
    _git_push(env, "Application", "argocd", "shop-web", BAD)
    env.settle()
    assert _image(env) == BAD
    return before


def _rollback(env: Env, before: str) -> None:
    env.run("rollback_workload", {"kind": "Deployment", "namespace": NS, "name": "web", "before": before})


def test_without_a_pause_self_heal_reverts_the_rollback(env: Env) -> None:
    before = _argo_app_with_bad_rollout(env)
    _rollback(env, before)
    assert _image(env) == GOOD
    env.settle()
    assert _image(env) == BAD, "Argo CD's self-heal puts Git's version back"


def test_pause_then_act_holds_the_rollback_and_resume_restores_sync(env: Env) -> None:
    before = _argo_app_with_bad_rollout(env)
    env.limits = replace(env.limits, owner_policies=OwnerPolicies(argocd=OwnerPolicy.PAUSE_THEN_ACT))
    target = env.kube.get("Deployment", "web", NS)
    record = pause(env.ctx(), target, execution_id="exec-1")
    assert record is not None and record.changed and (record.kind, record.namespace) == ("Application", "argocd")
    app = env.kube.get("Application", "shop-web", "argocd")
    assert "automated" not in app["spec"]["syncPolicy"] and paused_by(app) == "exec-1"
    assert json.loads(app["metadata"]["annotations"][PAUSED_SPEC]) == {"selfHeal": True, "prune": True}
    _rollback(env, before)
    env.settle()
    assert _image(env) == GOOD, "the rollback holds while sync is paused"
    again = pause(env.ctx(), target, execution_id="exec-2")
    assert again is not None and not again.changed
    assert paused_by(env.kube.get("Application", "shop-web", "argocd")) == "exec-1", "the first pause stays in charge"
    assert resume(env.ctx(), "Application", "shop-web", "argocd")
    app = env.kube.get("Application", "shop-web", "argocd")
    assert app["spec"]["syncPolicy"]["automated"] == {"selfHeal": True, "prune": True}
    assert PAUSED_BY not in (app["metadata"].get("annotations") or {})
    assert not resume(env.ctx(), "Application", "shop-web", "argocd"), "nothing left to restore"


def test_a_pause_is_lifted_once_its_time_has_passed(env: Env) -> None:
    _argo_app_with_bad_rollout(env)
    env.limits = replace(env.limits, owner_policies=OwnerPolicies(argocd=OwnerPolicy.PAUSE_THEN_ACT, pause_seconds=600))
    pause(env.ctx(), env.kube.get("Deployment", "web", NS), execution_id="exec-1")
    assert resume_expired(env.ctx()) == []
    env.clock.advance(timedelta(seconds=601).total_seconds())
    assert resume_expired(env.ctx()) == ["Application argocd/shop-web"]
    assert env.kube.get("Application", "shop-web", "argocd")["spec"]["syncPolicy"]["automated"]["selfHeal"] is True


def test_escalate_and_act_policies_pause_nothing(env: Env) -> None:
    _argo_app_with_bad_rollout(env)
    target = env.kube.get("Deployment", "web", NS)
    assert pause(env.ctx(), target, execution_id="exec-1") is None  # default: escalate
    env.limits = replace(env.limits, owner_policies=OwnerPolicies(argocd=OwnerPolicy.ACT))
    assert pause(env.ctx(), target, execution_id="exec-1") is None
    assert paused_by(env.kube.get("Application", "shop-web", "argocd")) is None


def test_flux_pause_suspends_the_kustomization(env: Env) -> None:
    install_gitops_crds(env.sim.cluster.store)
    env.create({"kind": "Namespace", "metadata": {"name": "flux-system"}})
    env.create(kustomization("apps", [objects.deployment("web", image=GOOD)], interval="10s"))
    env.settle()
    env.limits = replace(env.limits, owner_policies=OwnerPolicies(flux=OwnerPolicy.PAUSE_THEN_ACT))
    record = pause(env.ctx(), env.kube.get("Deployment", "web", NS), execution_id="exec-1")
    assert record is not None and record.kind == "Kustomization"
    assert env.kube.get("Kustomization", "apps", "flux-system")["spec"]["suspend"] is True
    assert resume(env.ctx(), "Kustomization", "apps", "flux-system")
    assert env.kube.get("Kustomization", "apps", "flux-system")["spec"]["suspend"] is False
