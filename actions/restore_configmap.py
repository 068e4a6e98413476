"""restore_configmap: put back the last-known-good data, then roll the workloads that read it.

Inverse: the same action with `before` = the time of the restore. The snapshot keeper recorded
the replaced version before that moment, so its newest version before it is what was replaced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime

from actions.base import (
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
    ActionRefused,
    Disruption,
    Invocation,
    NamespacedParams,
    Outcome,
    Permission,
    Precondition,
    Profile,
    Reversibility,
    RiskHints,
    Scope,
    TargetRef,
    Verification,
)
from actions.facts import Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.kube import PatchType
from actions.workloads import consumers, restart_patch, verify_rollout

Obj = dict[str, Any]
KIND = "ConfigMap"


class RestoreConfigMapParams(NamespacedParams):
    """Which ConfigMap to restore, and to when."""

    before: AwareDatetime
    """When the incident began: the newest snapshot taken before this moment is restored."""


def _content(obj: Obj | None) -> Obj:
    obj = obj or {}
    return {"data": dict(obj.get("data") or {}), "binaryData": dict(obj.get("binaryData") or {})}


def known_good_version(facts: Facts, kind: str) -> Precondition:
    """A last-known-good copy from before the action's cutoff exists (restore_configmap, restore_service)."""
    rev = facts.revisions
    held = rev is not None and rev.snapshot_available
    when = f"before {rev.cutoff.isoformat()}" if rev is not None and rev.cutoff is not None else "before the incident"
    detail = f"a snapshot of the {kind} from {when} exists" if held else f"no snapshot of the {kind} from {when}"
    return Precondition("known_good_version", held, detail)


class RestoreConfigMap(Action[RestoreConfigMapParams]):
    """Restore a ConfigMap's data and binaryData from last-known-good, then restart its consumers."""

    name = ActionName.RESTORE_CONFIGMAP
    summary = "Restore a ConfigMap from its last-known-good snapshot, then rolling-restart the workloads using it."
    params_model = RestoreConfigMapParams
    profile = Profile(reversibility=Reversibility.REVERSIBLE, scope=Scope.NAMESPACE)
    permissions = (
        Permission("", "configmaps", ("create", "get", "update")),
        Permission("apps", "deployments", ("list", "patch")),
        Permission("apps", "statefulsets", ("list", "patch")),
        Permission("apps", "daemonsets", ("list", "patch")),
    )

    def target(self, params: RestoreConfigMapParams) -> TargetRef:
        return TargetRef(KIND, params.name, params.namespace)

    def _snapshot(self, ctx: ActionContext, params: RestoreConfigMapParams) -> Obj:
        snapshot = ctx.snapshots.version_before(KIND, params.namespace, params.name, params.before)
        if snapshot is None:
            raise ActionRefused(
                self.name,
                f"no snapshot of ConfigMap {params.namespace}/{params.name} from before {params.before.isoformat()}",
            )
        return snapshot

    def known_good_cutoff(self, params: RestoreConfigMapParams) -> datetime:
        return params.before

    def preconditions(self, facts: Facts, params: RestoreConfigMapParams, limits: ActionLimits) -> list[Precondition]:
        return [known_good_version(facts, KIND)]

    def execute(self, ctx: ActionContext, params: RestoreConfigMapParams) -> Outcome:
        ns, name = params.namespace, params.name
        wanted = _content(self._snapshot(ctx, params))
        state: Obj = {}

        def plan() -> Write | None:
            current = ctx.kube.try_get(KIND, name, ns)
            state["before"] = _content(current) if current else None
            if current is None:
                body: Obj = {"apiVersion": "v1", "kind": KIND, "metadata": {"name": name, "namespace": ns}, **wanted}
                return lambda dry: ctx.kube.create(KIND, body, ns, dry_run=dry)
            if _content(current) == wanted:
                return None
            replacement = {**current, **wanted}
            return lambda dry: ctx.kube.replace(KIND, name, replacement, ns, dry_run=dry)

        result = dry_run_then_write(plan)
        before: Obj = {"content": state["before"], "restored_at": ctx.clock().isoformat()}
        if result is None:
            return Outcome(
                False, f"ConfigMap {ns}/{name} already holds the known-good data", before, {"content": wanted}
            )
        token = f"cm-{name[:40]}-{result['metadata'].get('resourceVersion', '0')}"
        restarted = []
        for kind, workload in consumers(ctx.kube, ns, name):
            wname = workload["metadata"]["name"]
            patch = restart_patch(token, ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
            for dry in (True, False):
                ctx.kube.patch(kind.value, wname, patch, ns, patch_type=PatchType.MERGE, dry_run=dry)
            restarted.append({"kind": kind.value, "name": wname})
        after = {"content": wanted, "restarted": restarted}
        detail = f"restored ConfigMap {ns}/{name} and restarted {len(restarted)} consumer(s)"
        return Outcome(True, detail, before, after, api_calls=("write ConfigMap (dry run)", "write ConfigMap"))

    def verify(self, ctx: ActionContext, params: RestoreConfigMapParams, outcome: Outcome) -> Verification:
        current = ctx.kube.try_get(KIND, params.name, params.namespace)
        if _content(current) != outcome.after.get("content") or current is None:
            return Verification(ok=False, settled=True, detail="the ConfigMap does not hold the restored data")
        for item in outcome.after.get("restarted") or []:
            status = verify_rollout(ctx.kube, item["kind"], item["name"], params.namespace)
            if not status.ok:
                return Verification(False, status.settled, f"{item['kind']} {item['name']}: {status.detail}")
        return Verification(ok=True, settled=True, detail="restored; consumers rolled out")

    def inverse(self, params: RestoreConfigMapParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed or outcome.before.get("content") is None:
            return None
        at = outcome.before["restored_at"]
        return Invocation(self.name, {"namespace": params.namespace, "name": params.name, "before": at})

    def risk_hints(self, params: RestoreConfigMapParams) -> RiskHints:
        return RiskHints(Disruption.CONSUMER_RESTART, "restarts")
