"""Owner scenarios: bad rollouts of objects Argo CD, Flux, Helm or an operator manage, under each
owner policy, through the closed loop of the suite (`bench.suite.Run`).

Run: `python -m bench.owners [--json PATH] [NAME ...]`. Each scenario reports what ran, the
owner's decision reason, whether the fix held, and its verdict against what a good agent does.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from actions.owners import OwnerPolicy
from agent.owner_settings import OwnersSettings
from agent.owner_watch import REVERTED_BY_OWNER
from agent.reports.labels import load_history
from bench.scenarios import Expect, Scenario
from bench.suite import Run
from simcluster.controllers.gitops import DESIRED
from simcluster.gitops_objects import application, crd, install_gitops_crds, kustomization
from simcluster.store import ObjectStore

Obj = dict[str, Any]
SHOP, PAY = "shop", "payments"


@dataclass(frozen=True)
class OwnerScenario:
    """One managed object, the operator's policy for its owner, and what a good agent does."""

    name: str
    title: str
    owner: str
    """argocd, flux, helm or operator."""
    policy: OwnerPolicy
    expect: str
    """escalate (act on nothing, say what to revert), holds (act; the fix survives the owner),
    act (act, the decision says the owner may revert), reverted (act; the owner undoes it)."""
    heal_seconds: float = 30.0


ESCALATE, PAUSE, ACT = OwnerPolicy.ESCALATE, OwnerPolicy.PAUSE_THEN_ACT, OwnerPolicy.ACT
SCENARIOS = (
    OwnerScenario("argocd-escalate", "Argo CD self-heal, bad commit, default policy", "argocd", ESCALATE, "escalate"),
    OwnerScenario("argocd-pause", "Argo CD self-heal, bad commit, pause-then-act", "argocd", PAUSE, "holds"),
    OwnerScenario("flux-escalate", "Flux Kustomization, bad commit, default policy", "flux", ESCALATE, "escalate"),
    OwnerScenario("flux-pause", "Flux Kustomization, bad commit, pause-then-act", "flux", PAUSE, "holds"),
    OwnerScenario("operator-statefulset", "operator-owned StatefulSet, bad image", "operator", ESCALATE, "escalate"),
    OwnerScenario("helm-act", "Helm-managed Deployment, bad image", "helm", ACT, "act"),
    OwnerScenario("argocd-reverts", "Argo CD self-heal undoes the fix (act)", "argocd", ACT, "reverted", 600.0),
)


@dataclass
class OwnerResult:
    """What happened in one owner scenario."""

    name: str
    title: str
    policy: str
    expect: str
    actions: list[str] = field(default_factory=list)
    owner_reason: str = ""
    image_after: str = ""
    owner_note: str = ""
    sync_restored: bool | None = None
    """pause-then-act: after the Undo of the fix, the owner's automated sync is back (None: no pause)."""
    verdict: str = "fail"


def _manifest(store: ObjectStore, kind: str, namespace: str, name: str) -> Obj:
    """The live object as it would sit in Git: no status, no server-set metadata."""
    live = copy.deepcopy(store.get(kind, namespace, name))
    meta = live["metadata"]
    return {
        "apiVersion": live["apiVersion"],
        "kind": kind,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": meta.get("labels") or {}},
        "spec": live["spec"],
    }


def _bad(manifest: Obj) -> Obj:
    bad = copy.deepcopy(manifest)
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["image"] = str(container["image"]).rsplit(":", 1)[0] + ":doesnotexist"
    return bad


def _adopt(run: Run, scenario: OwnerScenario) -> None:
    """Hand the target to its owner; for GitOps, then push the bad commit (the owner applies it)."""
    store = run.sim.cluster.store
    if scenario.owner in ("argocd", "flux"):
        install_gitops_crds(store)
        owner_ns = "argocd" if scenario.owner == "argocd" else "flux-system"
        store.create("Namespace", {"metadata": {"name": owner_ns}})
        good = _manifest(store, "Deployment", SHOP, "frontend")
        if scenario.owner == "argocd":
            store.create("Application", application("shop", [good], heal_seconds=scenario.heal_seconds))
            kind, name = "Application", "shop"
        else:
            store.create("Kustomization", kustomization("shop", [good], interval=f"{scenario.heal_seconds:.0f}s"))
            kind, name = "Kustomization", "shop"
        run.tick(120)
        store.mutate(
            kind, owner_ns, name, lambda o: o["metadata"]["annotations"].update({DESIRED: json.dumps([_bad(good)])})
        )
    elif scenario.owner == "helm":
        notes = {"meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": SHOP}
        store.mutate(
            "Deployment", SHOP, "frontend", lambda o: o["metadata"].setdefault("annotations", {}).update(notes)
        )
        run.sim.cluster.inject("bad_image_rollout", namespace=SHOP, deployment="frontend")
    else:
        store.create("CustomResourceDefinition", crd("LedgerCluster", "ledgerclusters", "db.example.com", "v1"))
        owner = store.create(
            "LedgerCluster", {"metadata": {"name": "ledger", "namespace": PAY}, "spec": {"replicas": 1}}
        )
        ref: Obj = {"apiVersion": "db.example.com/v1", "kind": "LedgerCluster", "name": "ledger"}
        ref |= {"uid": owner["metadata"]["uid"], "controller": True}
        store.mutate("StatefulSet", PAY, "ledger", lambda o: o["metadata"].__setitem__("ownerReferences", [ref]))
        run.sim.cluster.inject("statefulset_bad_rollout", namespace=PAY, statefulset="ledger")


def _image(run: Run, scenario: OwnerScenario) -> str:
    kind, ns, name = (
        ("StatefulSet", PAY, "ledger") if scenario.owner == "operator" else ("Deployment", SHOP, "frontend")
    )
    return str(run.sim.cluster.store.get(kind, ns, name)["spec"]["template"]["spec"]["containers"][0]["image"])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _owner_reason(run: Run) -> str:
    """The owner's line in the audited decisions: the policy veto, else the reversibility reason."""
    found = [s for r in run.agent.store.audit.records() for s in _strings(r.payload)]
    vetoes = [s for s in found if "owner_policy" in s]
    return (vetoes or [s for s in found if "manages the target" in s] or [""])[0]


def _judge(run: Run, scenario: OwnerScenario, result: OwnerResult) -> None:
    executions = run.agent.store.executions.recent(run.clock.now().replace(year=2000))
    ran = [e for e in executions if not (e.outcome or {}).get("refused")]
    result.actions = [f"{e.action} {e.target_kind}/{e.target_name}: {e.state.value}" for e in executions]
    result.owner_reason = _owner_reason(run)
    result.image_after = result.image_after or _image(run, scenario)
    good = not result.image_after.endswith(":doesnotexist") and not result.image_after.endswith(":broken")
    if scenario.expect == "escalate":
        ok = not ran and "policy escalate" in result.owner_reason and "revert" in result.owner_reason
    elif scenario.expect in ("holds", "act"):
        ok = bool(ran) and good and "manages the target" in result.owner_reason
        ok = ok and result.sync_restored is not False
    else:
        ok = bool(ran) and result.owner_note == f"{REVERTED_BY_OWNER}; report label {REVERTED_BY_OWNER}"
    result.verdict = "pass" if ok else "fail"


def _synced(run: Run, scenario: OwnerScenario) -> bool:
    """Whether the owner reconciles automatically: Argo CD's automated sync, Flux not suspended."""
    store = run.sim.cluster.store
    if scenario.owner == "argocd":
        return "automated" in (store.get("Application", "argocd", "shop")["spec"].get("syncPolicy") or {})
    return not store.get("Kustomization", "flux-system", "shop")["spec"].get("suspend", False)


def _undo_restores_sync(run: Run, scenario: OwnerScenario) -> bool:
    """Undo the fix as on-call would (Slack's Undo button: a new request, approved by someone else,
    run by the leader): the owner's pause must be lifted with it."""
    recent = run.agent.store.executions.recent(run.clock.now() - timedelta(days=2))
    fixes = [e for e in recent if (e.outcome or {}).get("owner_pause") and e.approval_request_id]
    if not fixes or _synced(run, scenario):
        return False  # nothing was paused, or the pause did not hold until the Undo
    run.tick(16 * 60)  # past the cooldown on the target
    answer = run.agent.undo(str(fixes[-1].approval_request_id), "oncall-asker")
    for _ in range(5):
        run._approve_pending()
        run.agent.dispatch()
        run.agent.executor.wait(timeout=60)
        run.tick(30)
    if not _synced(run, scenario):
        print(f"      undo: {answer}")
    return _synced(run, scenario)


def run_one(scenario: OwnerScenario, workdir: Path) -> OwnerResult:
    """Run one owner scenario on its own cluster and agent."""
    expect = Expect.ABSTAIN if scenario.expect == "escalate" else Expect.FIX
    base = Scenario(scenario.name, scenario.title, f"owner: {scenario.owner}", (), expect=expect)
    owners = OwnersSettings.model_validate(
        {scenario.owner: scenario.policy, "pause_seconds": 1800.0, "watch_seconds": 1800.0}
    )
    run = Run(base, workdir, owners=owners)
    result = OwnerResult(scenario.name, scenario.title, scenario.policy.value, scenario.expect)
    try:
        run.prepare()
        _adopt(run, scenario)
        run.loop()
        run.agent.executor.wait(timeout=60)
        if scenario.expect == "holds":
            run.tick(600)  # well past the owner's heal delay or interval
            result.owner_note = f"after 10 more minutes the image is {_image(run, scenario)}"
            result.image_after = _image(run, scenario)
            result.sync_restored = _undo_restores_sync(run, scenario)
        if scenario.expect == "reverted":
            reverted: list[str] = []
            for _ in range(20):  # the leader's watch job, every simulated minute
                run.tick(60)
                reverted += run.agent.watch_owners()
            labels = sorted({d.ending.value for d in load_history(run.agent.store, since=None) if d.executed})
            result.owner_note = (REVERTED_BY_OWNER if reverted else "held") + f"; report label {', '.join(labels)}"
        _judge(run, scenario, result)
    finally:
        run.agent.stop()
        run.sim.stop()
    return result


def run_all(names: list[str] | None = None) -> list[OwnerResult]:
    """Run the named scenarios (all when none), each on its own cluster and agent, printing a line each."""
    results = []
    for scenario in [s for s in SCENARIOS if not names or s.name in names]:
        workdir = Path(tempfile.mkdtemp(prefix="owners-bench-"))
        try:
            result = run_one(scenario, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.append(result)
        line = f"{result.verdict:4}  {result.name:22} {result.policy:15} actions={len(result.actions)}"
        print(f"{line} image={result.image_after} sync_restored={result.sync_restored}")
        print(f"      {result.owner_reason[:200]} {result.owner_note}")
    return results


EXPECTED = {
    "escalate": "escalate with the image to revert to",
    "holds": "the fix holds",
    "act": "act; the owner may revert",
    "reverted": "reverted-by-owner, labelled so",
}


def section(results: list[OwnerResult], *, seconds: float) -> list[str]:
    """The Markdown section for docs/benchmarks.md."""
    passed = sum(1 for r in results if r.verdict == "pass")
    lines = [
        "## Owner scenarios",
        "",
        "`python -m bench --only owners` (or `python -m bench.owners [--json PATH] [NAME ...]`) runs bad",
        "rollouts of objects another controller manages through the same closed loop (see",
        "[owners.md](owners.md)). Under `pause-then-act` the fix must hold ten simulated minutes past the",
        "owner's heal delay, then on-call's Undo (a new request approved by someone else) must restore the",
        "owner's automated sync. That Undo puts the broken image back, so its rollout never completes and",
        "the Undo's run ends `failed` (verification), as it should: what matters there is the sync.",
        "",
        "| scenario | policy | expected | what ran | image after | sync restored on Undo | outcome | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ran = "; ".join(r.actions) or "nothing"
        restored = "-" if r.sync_restored is None else ("yes" if r.sync_restored else "no")
        outcome = r.owner_note if r.expect == "reverted" else "-"
        lines.append(
            f"| {r.title} | {r.policy} | {EXPECTED[r.expect]} | {ran} | {r.image_after} | {restored} | {outcome} "
            f"| {r.verdict} |"
        )
    lines += ["", f"{passed} of {len(results)} pass; the run took {seconds:.0f} s of wall time.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the owner scenarios and print one line each (and JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.owners")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run_all(args.names)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.verdict == "pass" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
