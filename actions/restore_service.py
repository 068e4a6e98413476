"""restore_service: put back a Service's selector and ports from last-known-good, re-creating it if deleted.

Inverse: the same action with `before` = the time of the restore (the snapshot keeper's newest
version before that moment is the replaced spec). A re-created Service has no inverse: what it
replaced was nothing.
"""

from __future__ import annotations

import copy
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
from actions.restore_configmap import known_good_version

Obj = dict[str, Any]
KIND = "Service"
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")


class RestoreServiceParams(NamespacedParams):
    """Which Service to restore, and to when."""

    before: AwareDatetime
    """When the incident began: the newest snapshot taken before this moment is restored."""


def _routing(obj: Obj | None) -> Obj:
    spec = (obj or {}).get("spec") or {}
    return {"selector": spec.get("selector") or {}, "ports": spec.get("ports") or []}


def recreation_body(snapshot: Obj) -> Obj:
    """The snapshot made creatable: server-owned fields and the allocated cluster IPs dropped."""
    body = copy.deepcopy(snapshot)
    body.pop("status", None)
    meta = body.setdefault("metadata", {})
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    spec = body.setdefault("spec", {})
    spec.pop("clusterIP", None)
    spec.pop("clusterIPs", None)
    body.setdefault("apiVersion", "v1")
    body.setdefault("kind", KIND)
    return body


class RestoreService(Action[RestoreServiceParams]):
    """Restore a Service's routing (selector and ports) from last-known-good."""

    name = ActionName.RESTORE_SERVICE
    summary = "Restore a Service's selector and ports from its last-known-good snapshot (re-create it if deleted)."
    params_model = RestoreServiceParams
    profile = Profile(reversibility=Reversibility.REVERSIBLE, scope=Scope.WORKLOAD)
    permissions = (Permission("", "services", ("create", "get", "update")),)

    def target(self, params: RestoreServiceParams) -> TargetRef:
        return TargetRef(KIND, params.name, params.namespace)

    may_create_target = True

    def known_good_cutoff(self, params: RestoreServiceParams) -> datetime:
        return params.before

    def preconditions(self, facts: Facts, params: RestoreServiceParams, limits: ActionLimits) -> list[Precondition]:
        return [known_good_version(facts, KIND)]

    def execute(self, ctx: ActionContext, params: RestoreServiceParams) -> Outcome:
        ns, name = params.namespace, params.name
        snapshot = ctx.snapshots.version_before(KIND, ns, name, params.before)
        if snapshot is None:
            raise ActionRefused(
                self.name, f"no snapshot of Service {ns}/{name} from before {params.before.isoformat()}"
            )
        wanted = _routing(snapshot)
        state: Obj = {}

        def plan() -> Write | None:
            current = ctx.kube.try_get(KIND, name, ns)
            state["before"] = _routing(current) if current else None
            if current is None:
                body = recreation_body(snapshot)
                return lambda dry: ctx.kube.create(KIND, body, ns, dry_run=dry)
            if _routing(current) == wanted:
                return None
            body = copy.deepcopy(current)
            body["spec"]["selector"], body["spec"]["ports"] = wanted["selector"], wanted["ports"]
            return lambda dry: ctx.kube.replace(KIND, name, body, ns, dry_run=dry)

        result = dry_run_then_write(plan)
        before: Obj = {"routing": state["before"], "restored_at": ctx.clock().isoformat()}
        if result is None:
            return Outcome(False, f"Service {ns}/{name} already routes as known-good", before, {"routing": wanted})
        verb = "re-created" if state["before"] is None else "restored"
        return Outcome(True, f"{verb} Service {ns}/{name}", before, {"routing": wanted}, ("dry run", "write"))

    def verify(self, ctx: ActionContext, params: RestoreServiceParams, outcome: Outcome) -> Verification:
        current = ctx.kube.try_get(KIND, params.name, params.namespace)
        if current is None:
            return Verification(ok=False, settled=True, detail="the Service does not exist")
        if _routing(current) != outcome.after.get("routing"):
            return Verification(ok=False, settled=True, detail="selector or ports differ from the restored ones")
        return Verification(ok=True, settled=True, detail="selector and ports are the known-good ones")

    def inverse(self, params: RestoreServiceParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed or outcome.before.get("routing") is None:
            return None
        at = outcome.before["restored_at"]
        return Invocation(self.name, {"namespace": params.namespace, "name": params.name, "before": at})

    def risk_hints(self, params: RestoreServiceParams) -> RiskHints:
        return RiskHints(Disruption.TRAFFIC_REROUTE, "reroutes traffic of")
