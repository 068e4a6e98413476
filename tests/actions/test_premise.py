"""The alert is a claim: which alerts assert what, and when the cluster contradicts them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actions.premise import AlertPremise, Claim, PremiseFacts, SubjectState, premise_of, premise_preconditions

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_premise_of_names_the_subject_the_alert_is_about() -> None:
    assert premise_of("KubeNodeNotReady", {"node": "node-1"}) == AlertPremise(
        "KubeNodeNotReady", Claim.NODE_NOT_READY, "Node", "node-1"
    )
    assert premise_of("KubePodCrashLooping", {"namespace": "shop", "pod": "web-1"}) == AlertPremise(
        "KubePodCrashLooping", Claim.POD_UNHEALTHY, "Pod", "web-1", "shop"
    )
    assert premise_of("KubePodCrashLooping", {"pod": "web-1"}) is None, "no namespace: nothing to read"
    assert premise_of("KubeJobFailed", {"namespace": "shop", "job_name": "x"}) is None
    assert premise_of("KubeNodeNotReady", {}) is None


@pytest.mark.parametrize(
    ("claim", "state", "contradicted"),
    [
        (Claim.NODE_NOT_READY, SubjectState(exists=True, ready=True), True),
        (Claim.NODE_NOT_READY, SubjectState(exists=True, ready=False), False),
        (Claim.NODE_NOT_READY, SubjectState(exists=True, ready=None), False),
        (Claim.POD_UNHEALTHY, SubjectState(exists=True, ready=True), True),
        (Claim.POD_UNHEALTHY, SubjectState(exists=False), False),
        (Claim.REPLICAS_MISSING, SubjectState(exists=True, ready=True, rollout_complete=True), True),
        (Claim.REPLICAS_MISSING, SubjectState(exists=True, ready=None, rollout_complete=True), False),
        (Claim.ROLLOUT_STUCK, SubjectState(exists=True, ready=True, rollout_complete=True), True),
        (Claim.ROLLOUT_STUCK, SubjectState(exists=True, ready=True, rollout_complete=False), False),
        (Claim.ROLLOUT_STUCK, SubjectState(exists=True, ready=False, rollout_complete=True), False),
    ],
)
def test_only_a_clear_contradiction_fails_the_premise(claim: Claim, state: SubjectState, contradicted: bool) -> None:
    premise = AlertPremise("SomeAlert", claim, "Node", "n1")
    [check] = premise_preconditions(PremiseFacts(NOW, ((premise, state),)))
    assert check.name == "alert_premise"
    assert check.holds is not contradicted
    if contradicted:
        assert "SomeAlert claims" in check.detail


def test_no_premises_means_no_premise_checks() -> None:
    assert premise_preconditions(None) == []
    assert premise_preconditions(PremiseFacts(NOW)) == []
