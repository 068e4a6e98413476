"""rollback_workload: put back the pod template that was serving before the incident began.

The target is the newest revision created before `before` (controller history: ReplicaSets or
ControllerRevisions), not merely the previous one, so a bad patch followed by a restart does not
land on the bad template. With no such revision the agent's last-known-good snapshot serves; with
neither the action refuses.

Inverse: `to_revision` names the replaced revision exactly when history holds it; otherwise the
inverse carries `before` = the time of the rollback, which makes the snapshot keeper's newest
version before that moment the replaced template.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from actions.base import (
    Action,
    ActionContext,
    ActionLimits,
    ActionName,
    ActionRefused,
    Disruption,
    Invocation,
    Outcome,
    Permission,
    Precondition,
    Profile,
    Reversibility,
    RiskHints,
    Scope,
    TargetRef,
    Verification,
    WorkloadKind,
)
from actions.facts import Facts
from actions.guarded_write import Write, dry_run_then_write
from actions.owner_policy import revert_suggestion
from actions.revisions import Entry, Revision, history, known_good_snapshot, matching, serving_entry, template_digest
from actions.workloads import WorkloadParams, normalised_template, template_of, verify_rollout

Obj = dict[str, Any]
REVISION_HASH = "controller-revision-hash"


class RollbackParams(WorkloadParams):
    """Which workload to roll back, and to when."""

    before: AwareDatetime
    """When the incident began (reaching back past the alert rule's pending period): the revision
    serving at this moment is restored."""
    to_revision: int | None = Field(default=None, ge=1)
    """Restore exactly this controller revision number instead (how the inverse names the replaced
    template); refused when history no longer holds it."""


@dataclass(frozen=True)
class RestorePoint:
    """What a rollback goes back to: a history revision (its number) or the known-good snapshot."""

    source: str
    number: int | None
    digest: str


def restore_point(
    entries: Sequence[Entry], params: RollbackParams, *, snapshot_digest: str | None
) -> RestorePoint | str:
    """The known-good version to restore, or why there is none. The one judgement of "known good"
    that the risk probes' facts and the action's own fresh reads both go through: the revision
    serving at the action's cutoff (it predates the change the incident follows), else the newest
    snapshot from before the cutoff that the agent observed healthy; `to_revision` names one exactly."""
    where = f"{params.kind.value} {params.namespace}/{params.name}"
    if params.to_revision is not None:
        exact = [e for e in entries if e.number == params.to_revision]
        if not exact:
            return f"{where} has no revision {params.to_revision}"
        return RestorePoint("history", exact[-1].number, exact[-1].digest)
    serving = serving_entry(entries, params.before)
    if serving is not None:
        return RestorePoint("history", serving.number, serving.digest)
    if snapshot_digest is not None:
        return RestorePoint("snapshot", None, snapshot_digest)
    return (
        f"nothing to roll back to: no revision of {where} was serving before {params.before.isoformat()} and no "
        "snapshot from before then was observed healthy"
    )


def _target(ctx: ActionContext, params: RollbackParams, revisions: list[Revision]) -> tuple[Obj, str, int | None]:
    """The template to restore, where it came from, and its revision number when known."""
    kind, ns, name = params.kind.value, params.namespace, params.name
    snapshot = known_good_snapshot(ctx.snapshots, kind, ns, name, params.before)
    template = normalised_template(template_of(snapshot)) if snapshot is not None and template_of(snapshot) else None
    point = restore_point(revisions, params, snapshot_digest=template_digest(template) if template else None)
    if isinstance(point, str):
        raise ActionRefused(ActionName.ROLLBACK_WORKLOAD, point)
    if point.source == "snapshot" and template is not None:
        return template, "snapshot", None
    chosen = [r for r in revisions if r.number == point.number and r.digest == point.digest]
    return chosen[-1].template, "history", point.number


class RollbackWorkload(Action[RollbackParams]):
    """Restore the pod template serving before the incident began."""

    name = ActionName.ROLLBACK_WORKLOAD
    summary = "Restore the pod template of the newest revision serving before the incident began."
    params_model = RollbackParams
    profile = Profile(reversibility=Reversibility.PARTIALLY_REVERSIBLE, scope=Scope.WORKLOAD)
    permissions = (
        Permission("apps", "deployments", ("get", "update")),
        Permission("apps", "statefulsets", ("get", "update")),
        Permission("apps", "daemonsets", ("get", "update")),
        Permission("apps", "replicasets", ("list",)),
        Permission("apps", "controllerrevisions", ("list",)),
        Permission("", "pods", ("delete", "list")),
    )

    def target(self, params: RollbackParams) -> TargetRef:
        return TargetRef(params.kind.value, params.name, params.namespace)

    def known_good_cutoff(self, params: RollbackParams) -> datetime:
        return params.before

    def preconditions(self, facts: Facts, params: RollbackParams, limits: ActionLimits) -> list[Precondition]:
        rev = facts.revisions
        if rev is None:
            return [Precondition("known_good_template", False, "the workload's history could not be read")]
        point = restore_point(rev.history, params, snapshot_digest=rev.snapshot_digest)
        if isinstance(point, str):
            return [Precondition("known_good_template", False, point)]
        detail = f"from {point.source}" + (f", revision {point.number}" if point.number else "")
        checks = [Precondition("known_good_template", True, detail)]
        if params.to_revision is None:
            same = rev.running_digest == point.digest
            changes = "it runs that template already (but for restarts): a rollback changes nothing"
            checks.append(Precondition("changes_something", not same, changes if same else "the template differs"))
        return checks

    def owner_suggestion(self, facts: Facts, params: RollbackParams) -> str:
        rev = facts.revisions
        point = restore_point(rev.history, params, snapshot_digest=rev.snapshot_digest) if rev else None
        if point is None or isinstance(point, str):
            return f"revert the workload in the owner's source ({point or 'its history could not be read'})"
        return revert_suggestion(facts, number=point.number, digest=point.digest)

    def execute(self, ctx: ActionContext, params: RollbackParams) -> Outcome:
        kind, ns, name = params.kind.value, params.namespace, params.name
        state: Obj = {}

        def plan() -> Write | None:
            workload = ctx.kube.try_get(kind, name, ns)
            if workload is None:
                raise ActionRefused(self.name, f"{kind} {ns}/{name} does not exist")
            revisions = history(ctx.kube, params.kind, workload)
            template, source, number = _target(ctx, params, revisions)
            current = normalised_template(template_of(workload))
            replaced = matching(revisions, current)
            state.update(
                template=template,
                source=source,
                number=number,
                replaced=current,
                replaced_number=replaced.number if replaced else None,
                bad_hashes={r.name for r in revisions if r.template == current}
                | {str((workload.get("status") or {}).get("updateRevision") or "")},
                uid=workload["metadata"].get("uid"),
            )
            if current == template:
                return None
            body = copy.deepcopy(workload)
            body["spec"]["template"] = copy.deepcopy(template)
            return lambda dry: ctx.kube.replace(kind, name, body, ns, dry_run=dry)

        result = dry_run_then_write(plan)
        before = {"template": state["replaced"], "revision": state["replaced_number"]}
        after = {"template": state["template"], "revision": state["number"], "source": state["source"]}
        after["at"] = ctx.clock().isoformat()
        if result is None:
            detail = f"{kind} {ns}/{name} already runs the template serving before {params.before.isoformat()}"
            return Outcome(changed=False, detail=detail, before=before, after=after)
        calls = [f"PUT {kind} {ns}/{name} (dry run)", f"PUT {kind} {ns}/{name}"]
        if params.kind == WorkloadKind.STATEFULSET:
            calls += self._replace_stuck_pods(ctx, ns, str(state["uid"]), state["bad_hashes"] - {""})
        detail = f"rolled {kind} {ns}/{name} back to the template from {state['source']}"
        return Outcome(changed=True, detail=detail, before=before, after=after, api_calls=tuple(calls))

    @staticmethod
    def _replace_stuck_pods(ctx: ActionContext, namespace: str, uid: str, bad_hashes: set[str]) -> list[str]:
        """The forced rollback of an OrderedReady StatefulSet: delete pods stuck unready on the bad revision."""
        calls: list[str] = []
        for pod in ctx.kube.list("Pod", namespace):
            meta = pod["metadata"]
            if not any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or []):
                continue
            if (meta.get("labels") or {}).get(REVISION_HASH) not in bad_hashes or _ready(pod):
                continue
            ctx.kube.delete("Pod", meta["name"], namespace, dry_run=True)
            ctx.kube.delete("Pod", meta["name"], namespace)
            calls.append(f"DELETE Pod {namespace}/{meta['name']} (stuck on the bad revision)")
        return calls

    def verify(self, ctx: ActionContext, params: RollbackParams, outcome: Outcome) -> Verification:
        workload = ctx.kube.try_get(params.kind.value, params.name, params.namespace)
        if workload is None:
            return Verification(ok=False, settled=True, detail="the workload is gone")
        if normalised_template(template_of(workload)) != outcome.after.get("template"):
            return Verification(ok=False, settled=True, detail="the pod template is not the restored one")
        return verify_rollout(ctx.kube, params.kind.value, params.name, params.namespace)

    def inverse(self, params: RollbackParams, outcome: Outcome) -> Invocation | None:
        if not outcome.changed:
            return None
        call: dict[str, Any] = {"kind": params.kind.value, "namespace": params.namespace, "name": params.name}
        call["before"] = outcome.after["at"]
        if outcome.before.get("revision") is not None:
            call["to_revision"] = outcome.before["revision"]
        return Invocation(self.name, call)

    def risk_hints(self, params: RollbackParams) -> RiskHints:
        return RiskHints(
            Disruption.ROLLING_REPLACEMENT, "replaces", to_revision=params.to_revision, undoes_recent_change=True
        )


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
