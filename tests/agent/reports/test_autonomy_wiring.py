"""The evaluator applies a promotion both when deciding and when re-validating before acting."""

from __future__ import annotations

from actions.kube import Kube
from actions.registry import parse_invocation
from agent.evaluate import Evaluator, NoHistory
from agent.planning.runbook import RunbookPlanner
from risk.autonomy import Grant
from risk.model import Proposal, Verdict
from risk.settings import PolicySettings, RiskSettings
from simcluster.harness import RunningSim

ALERT = "KubeHpaMaxedOut"


class _Grants:
    def __init__(self, grant: Grant | None) -> None:
        self.grant = grant

    def grant_for(self, action: str, namespace: str | None, alert: str) -> Grant | None:
        g = self.grant
        return g if g and (g.action, g.namespace, g.alert) == (action, namespace, alert) else None


def test_a_promotion_reaches_the_decision_and_the_revalidation(sim: RunningSim) -> None:
    sim.cluster.tick(30)
    kube = Kube.from_url(sim.url)
    policy = PolicySettings(execute_max=0.0)  # everything needs approval without a promotion
    action, params = parse_invocation(
        "scale_workload", {"namespace": "shop", "name": "catalog", "kind": "Deployment", "replicas": 3}
    )
    now = sim.cluster.clock.now()
    proposal = Proposal(action.name, params, action.target(params), now, alert_names=(ALERT,))
    plain = Evaluator(RunbookPlanner(kube), kube, NoHistory(), RiskSettings(), policy)
    risk, decision = plain.rescore(proposal, None, now=now)
    assert decision.verdict is Verdict.APPROVE

    grant = Grant("scale_workload", "shop", ALERT, "execute", round(risk.total, 4) + 0.01, "lead", now)
    promoted = Evaluator(RunbookPlanner(kube), kube, NoHistory(), RiskSettings(), policy, grants=_Grants(grant))
    _, again = promoted.rescore(proposal, None, now=now)
    assert again.verdict is Verdict.EXECUTE
    assert "earned autonomy" in again.rules[-1]

    other_alert = Proposal(action.name, params, action.target(params), now, alert_names=("KubePodCrashLooping",))
    assert promoted.rescore(other_alert, None, now=now)[1].verdict is Verdict.APPROVE


def test_a_promotion_never_covers_the_two_approver_band_as_it_is_now(sim: RunningSim) -> None:
    """The band is capped when promoting, but it can be lowered later: a grant made under the old
    band must not let a decision that now needs two people run with none."""
    sim.cluster.tick(30)
    kube = Kube.from_url(sim.url)
    policy = PolicySettings(execute_max=0.0)
    action, params = parse_invocation(
        "scale_workload", {"namespace": "shop", "name": "catalog", "kind": "Deployment", "replicas": 3}
    )
    now = sim.cluster.clock.now()
    proposal = Proposal(action.name, params, action.target(params), now, alert_names=(ALERT,))
    risk, _ = Evaluator(RunbookPlanner(kube), kube, NoHistory(), RiskSettings(), policy).rescore(
        proposal, None, now=now
    )
    grant = Grant("scale_workload", "shop", ALERT, "execute", round(risk.total, 4) + 0.01, "lead", now)
    band_now = max(0.0, round(risk.total, 4) - 0.01)  # lowered after the promotion, below this proposal's risk
    promoted = Evaluator(
        RunbookPlanner(kube),
        kube,
        NoHistory(),
        RiskSettings(),
        policy,
        grants=_Grants(grant),
        two_approver_min_risk=band_now,
    )
    _, decision = promoted.rescore(proposal, None, now=now)
    assert decision.verdict is Verdict.APPROVE
    assert not any("earned autonomy" in rule for rule in decision.rules)
