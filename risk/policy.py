"""The policy: a scored proposal becomes execute, approve or deny, with the rules that decided.

Vetoes come first and no score overrides them: protected namespaces, the kill switch,
freeze windows, budgets and the cooldown after acting on a target. Otherwise the score is
compared with the thresholds for the proposal's namespace and action (the stricter bound
wins when both are set). Shadow mode changes nothing about the verdict; it marks the
decision so nothing is executed.
"""

from __future__ import annotations

from datetime import datetime

from actions.preconditions import Judgement
from risk.facts import Facts
from risk.model import Decision, Proposal, RiskScore, Verdict
from risk.settings import PolicySettings, Thresholds

HOUR_SECONDS = 3600.0


def thresholds_for(proposal: Proposal, settings: PolicySettings) -> tuple[float, float, str]:
    """(execute_max, deny_min, where they came from) for the proposal's namespace and action.

    A namespace or action override replaces the default; with both, the lower (stricter) bound wins.
    """
    overrides: list[tuple[str, Thresholds]] = []
    ns = proposal.target.namespace
    if ns is not None and ns in settings.namespaces:
        overrides.append((f"namespace {ns}", settings.namespaces[ns]))
    if proposal.action in settings.actions:
        overrides.append((f"action {proposal.action.value}", settings.actions[proposal.action]))
    executes = [t.execute_max for _, t in overrides if t.execute_max is not None]
    denies = [t.deny_min for _, t in overrides if t.deny_min is not None]
    deny_min = min(denies) if denies else settings.deny_min
    execute_max = min(min(executes) if executes else settings.execute_max, deny_min)
    return execute_max, deny_min, " and ".join(label for label, _ in overrides) or "default"


def _count_within(times: tuple[datetime, ...], now: datetime, seconds: float) -> int:
    return sum(1 for t in times if 0 <= (now - t).total_seconds() < seconds)


def vetoes(proposal: Proposal, facts: Facts, settings: PolicySettings, *, now: datetime) -> list[tuple[str, bool]]:
    """The vetoes that apply, each with whether a human may still approve despite it."""
    found: list[tuple[str, bool]] = []
    ns = proposal.target.namespace
    if ns is not None and ns in settings.protected:
        found.append((f"veto: namespace {ns} is protected", False))
    elif ns is not None and settings.managed_namespaces and ns not in settings.managed_namespaces:
        found.append((f"veto: namespace {ns} is not one the agent manages", False))
    if facts.environment.kill_switch:
        found.append(("veto: the kill switch is engaged (scutum pause)", False))
    for window in settings.freeze_windows:
        if window.active(now, ns):
            found.append((f"veto: freeze window {window.name} is active", window.allow_approval))
    act, budgets = facts.activity, settings.budgets
    checks = (
        ("this target", act.on_target, budgets.per_target_per_hour),
        (f"namespace {ns}", act.in_namespace, budgets.per_namespace_per_hour),
        ("the cluster", act.overall, budgets.total_per_hour),
    )
    for label, times, budget in checks:
        used = _count_within(times, now, HOUR_SECONDS)
        if used >= budget:
            found.append((f"veto: budget for {label} spent ({used} of {budget} actions in the last hour)", False))
    cooldown = _cooldown(facts, settings, now=now)
    if cooldown is not None and proposal.requested_by is None:
        found.append((f"veto: {cooldown}", False))
    return found


def _cooldown(facts: Facts, settings: PolicySettings, *, now: datetime) -> str | None:
    last = facts.activity.last_on_target
    if last is None:
        return None
    elapsed = (now - last).total_seconds()
    if 0 <= elapsed < settings.cooldown_seconds:
        return (
            f"acted on this target {int(elapsed // 60)} min ago (cooldown {int(settings.cooldown_seconds // 60)} min)"
        )
    return None


def decide(
    proposal: Proposal,
    facts: Facts,
    score: RiskScore,
    settings: PolicySettings,
    *,
    now: datetime,
    judgement: Judgement | None = None,
) -> Decision:
    """The verdict for a scored proposal, with every rule that produced it. A failed precondition
    is a veto no score and no human can override: the action cannot run now."""
    found = [(f"veto: {reason}", False) for reason in (judgement.reasons() if judgement else ())]
    found += vetoes(proposal, facts, settings, now=now)
    rules = [rule for rule, _ in found]
    if found:
        approvable = all(ok for _, ok in found) and score.total <= settings.deny_min
        verdict = Verdict.APPROVE if approvable else Verdict.DENY
        if approvable:
            rules.append("a human may still approve during the freeze window")
    else:
        verdict = _by_score(proposal, score, settings, rules)
        cooldown = _cooldown(facts, settings, now=now)
        if cooldown is not None:
            rules.append(f"cooldown waived for a person's request, approval required: {cooldown}")
            verdict = Verdict.APPROVE if verdict is Verdict.EXECUTE else verdict
    if settings.shadow:
        rules.append("shadow mode: decision recorded, nothing will run")
    checks = judgement.checks if judgement else ()
    return Decision(verdict=verdict, risk=score, rules=tuple(rules), shadow=settings.shadow, preconditions=checks)


def _by_score(proposal: Proposal, score: RiskScore, settings: PolicySettings, rules: list[str]) -> Verdict:
    execute_max, deny_min, source = thresholds_for(proposal, settings)
    total = score.total
    where = f"({source} thresholds)"
    if total <= execute_max:
        rules.append(f"score {total:.2f} <= execute_max {execute_max:.2f} {where}: execute")
        return Verdict.EXECUTE
    if total > deny_min:
        rules.append(f"score {total:.2f} > deny_min {deny_min:.2f} {where}: deny")
        return Verdict.DENY
    rules.append(f"score {total:.2f} > execute_max {execute_max:.2f} {where}: approval required")
    return Verdict.APPROVE
