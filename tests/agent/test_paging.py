"""Paging: PagerDuty and Opsgenie get the documented request shapes, one page per incident that
updates and resolves, routed by settings, retried with backoff, and every failure audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.registry import ActionName
from agent.app import build_agent
from agent.audit import AuditKind
from agent.intake import Alert, AlertSource, Intake
from agent.paging import Page, PageAction, Pager, PageReason, PagingSettings
from agent.paging.events import OPSGENIE_MESSAGE_MAX, clean, opsgenie_request, pagerduty_event
from agent.paging.notices import ExpiryWarnings, incident_page, resolved_page
from agent.paging.routing import route
from agent.paging.sender import HttpxTransport
from agent.paging.settings import PagerKind
from agent.settings import load_settings
from approvals.model import ApprovalRequest, Target
from simcluster.harness import RunningSim
from tests.agent.pager_stub import PagerStub, pager_stub

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def page(incident: str = "inc-1", *, action: PageAction = PageAction.TRIGGER, **kw: Any) -> Page:
    base: dict[str, Any] = {
        "reason": PageReason.ESCALATED,
        "summary": "KubePodCrashLooping on Deployment shop/web: nothing fits",
        "at": NOW,
        "namespace": "shop",
        "severity": "critical",
        "target": "Deployment shop/web",
    }
    base.update(kw)
    return Page(incident_id=incident, action=action, **base)


def settings(stub: PagerStub, **extra: Any) -> PagingSettings:
    data: dict[str, Any] = {
        "pagerduty": {"routing_key": "R" * 32, "url": stub.url + "/v2/enqueue"},
        "opsgenie": {"api_key": "og-key", "url": stub.url},
        "source": "cluster-a",
        **extra,
    }
    return PagingSettings.model_validate(data)


class Recorder:
    def __init__(self) -> None:
        self.audit: list[tuple[str, str, dict[str, Any]]] = []
        self.counts: list[tuple[str, str]] = []
        self.slept: list[float] = []


@pytest.fixture
def stub() -> Iterator[PagerStub]:
    with pager_stub() as running:
        yield running


def make_pager(config: PagingSettings, recorder: Recorder) -> Pager:
    return Pager(
        config,
        transport=HttpxTransport(timeout=5),
        audit=lambda p, outcome, details: recorder.audit.append((p.incident_id, outcome, details)),
        count=lambda pager, outcome: recorder.counts.append((pager, outcome)),
        sleep=recorder.slept.append,
    )


def test_trigger_then_resolve_reach_both_pagers_in_the_documented_shapes(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub), recorder)

    pager.deliver(page())
    pager.deliver(page(reason=PageReason.DENIED))  # the same incident again: an update
    pager.deliver(page(action=PageAction.RESOLVE, reason=PageReason.RESOLVED, summary="Resolved"))

    assert stub.invalid == []
    events = stub.bodies("/v2/enqueue")
    assert [e["event_action"] for e in events] == ["trigger", "trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {"scutum/cluster-a/inc-1"}
    assert events[0]["payload"]["severity"] == "critical" and events[0]["payload"]["group"] == "shop"
    created = stub.bodies("/v2/alerts")
    assert [b.get("alias") for b in created[:2]] == ["scutum/cluster-a/inc-1"] * 2
    assert created[0]["priority"] == "P1"
    closes = [r for r in stub.received if r.path.endswith("/close")]
    assert len(closes) == 1 and closes[0].query == {"identifierType": ["alias"]}
    assert closes[0].headers["Authorization"] == "GenieKey og-key"
    assert [outcome for _, outcome, _ in recorder.audit] == ["sent"] * 6


def test_two_clusters_never_share_a_dedup_key() -> None:
    one = pagerduty_event(page(), routing_key="k", source="cluster-a")
    two = pagerduty_event(page(), routing_key="k", source="cluster-b")
    assert one["dedup_key"] != two["dedup_key"]


def test_routes_send_a_namespace_to_its_pager_and_nothing_where_no_rule_fits(stub: PagerStub) -> None:
    config = settings(stub, routes=[{"namespaces": ["shop"], "to": ["opsgenie"]}])

    assert route(page(), config) == [PagerKind.OPSGENIE]
    assert route(page(namespace="payments"), config) == []


def test_a_route_on_reason_lets_the_resolution_follow_its_trigger(stub: PagerStub) -> None:
    config = settings(stub, routes=[{"reasons": ["failed"], "to": ["pagerduty"]}])

    assert route(page(reason=PageReason.ESCALATED), config) == []
    assert route(page(reason=PageReason.FAILED), config) == [PagerKind.PAGERDUTY]
    assert PagerKind.PAGERDUTY in route(page(action=PageAction.RESOLVE, reason=PageReason.RESOLVED), config)


def test_a_pager_without_a_key_is_off() -> None:
    assert PagingSettings().enabled == []
    assert route(page(), PagingSettings()) == []


def test_rate_limited_page_waits_the_retry_after_and_is_delivered(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub, opsgenie={}), recorder)
    stub.answer((429, {"Retry-After": "7"}))

    pager.deliver(page())

    assert recorder.slept == [7.0]
    assert len(stub.bodies("/v2/enqueue")) == 1
    assert recorder.audit == [("inc-1", "sent", {"pager": "pagerduty", "attempts": 2})]


def test_a_pager_that_keeps_failing_is_audited_and_counted_after_bounded_retries(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub, opsgenie={}, max_attempts=3), recorder)
    stub.answer(503, 503, 503)

    pager.deliver(page())

    assert len(recorder.slept) == 2 and all(0 <= s <= 30 for s in recorder.slept)
    assert stub.received == []
    ((incident, outcome, details),) = recorder.audit
    assert (incident, outcome, details["pager"]) == ("inc-1", "failed", "pagerduty")
    assert "503" in details["error"]
    assert recorder.counts == [("pagerduty", "failed")]


def test_a_refused_page_is_not_retried(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub, opsgenie={}), recorder)
    stub.answer(400)

    pager.deliver(page())

    assert recorder.slept == []
    assert recorder.audit[0][1] == "failed" and "400" in recorder.audit[0][2]["error"]


def test_an_unreachable_pager_is_a_failure_not_an_exception() -> None:
    recorder = Recorder()
    config = PagingSettings.model_validate(
        {"pagerduty": {"routing_key": "k", "url": "http://127.0.0.1:9/v2/enqueue"}, "max_attempts": 2}
    )
    make_pager(config, recorder).deliver(page())

    assert recorder.audit[0][1] == "failed"
    assert recorder.counts == [("pagerduty", "failed")]


def test_send_returns_at_once_and_delivers_on_the_pager_thread(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub), recorder)

    future = pager.send(page())

    assert future is not None
    future.result(timeout=10)
    pager.close()
    assert len(stub.received) == 2


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=3000)


@given(summary=text, target=text, alert=text)
def test_untrusted_alert_text_never_breaks_the_documented_limits(summary: str, target: str, alert: str) -> None:
    hostile = page(summary=summary or "x", target=target or None, details={"alerts": alert})
    body = opsgenie_request(hostile, source="cluster-a").body
    assert len(body["message"]) <= OPSGENIE_MESSAGE_MAX
    for value in [body["message"], body["description"], *body["details"].values()]:
        assert not any(ord(ch) < 32 and ch not in "\t\n" for ch in value)
        assert "\u202e" not in value
    event = pagerduty_event(hostile, routing_key="k", source="cluster-a")
    assert len(event["payload"]["summary"]) <= 1024


def test_clean_strips_control_and_bidi_characters_and_caps_length() -> None:
    assert clean("a\x00b\u202ec\x1b[31m", 100) == "a bc [31m"
    assert len(clean("x" * 500, 130)) == 130


def request(request_id: str, *, created_at: datetime, deadline: datetime) -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        incident_id=f"inc-{request_id}",
        incident_summary="KubePodCrashLooping on Deployment shop/web",
        action=ActionName.RESTART_WORKLOAD,
        params={"namespace": "shop", "name": "web"},
        target=Target(kind="Deployment", namespace="shop", name="web"),
        risk={"score": 0.6, "components": {}},
        threshold=0.4,
        required_approvals=1,
        created_at=created_at,
        deadline=deadline,
    )


def test_an_approval_about_to_expire_is_paged_once(stub: PagerStub) -> None:
    recorder = Recorder()
    pager = make_pager(settings(stub, opsgenie={}), recorder)
    warnings = ExpiryWarnings(pager, warn_before=timedelta(minutes=5))
    soon = request("r-soon", created_at=NOW - timedelta(minutes=12), deadline=NOW + timedelta(minutes=3))
    later = request("r-later", created_at=NOW, deadline=NOW + timedelta(minutes=15))

    assert warnings.sweep([soon, later], now=NOW) == [soon.id]
    assert warnings.sweep([soon, later], now=NOW + timedelta(seconds=30)) == []
    pager.close()
    (event,) = stub.bodies("/v2/enqueue")
    assert event["payload"]["class"] == "approval_expiring"
    assert event["dedup_key"].endswith(soon.incident_id)


def test_the_daemon_pages_an_escalation_and_resolves_the_page_when_the_alert_resolves(
    stub: PagerStub, sim: RunningSim, tmp_path: Path
) -> None:
    env = {
        "SCUTUM_PAGING__PAGERDUTY__ROUTING_KEY": "R" * 32,
        "SCUTUM_PAGING__PAGERDUTY__URL": stub.url + "/v2/enqueue",
        "SCUTUM_PAGING__SOURCE": "cluster-a",
        "SCUTUM_KUBE__URL": sim.url,
        "SCUTUM_DATA_DIR": str(tmp_path),
    }
    agent = build_agent(load_settings(None, env=env), clock=sim.cluster.clock.now, use_cache=False)
    firing = {
        "labels": {"alertname": "SomethingNobodyKnows", "namespace": "shop", "severity": "warning"},
        "annotations": {},
        "startsAt": "2026-01-01T01:00:00Z",
        "endsAt": "2099-01-01T03:00:00Z",
        "fingerprint": "fp-unknown",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "scutum"}],
    }
    try:
        (handled,) = agent.pipeline.ingest_poll(json.dumps([firing]))
        agent.pipeline.ingest_poll(json.dumps([]))  # a complete answer without it: resolved
        assert agent.pager is not None
        agent.pager.close(wait=True)
        pages = [r.payload for r in agent.store.audit.records() if r.kind == AuditKind.PAGE.value]
    finally:
        agent.stop()

    incident = handled.evaluation.incident.id
    assert stub.invalid == []
    events = stub.bodies("/v2/enqueue")
    assert [(e["event_action"], e["dedup_key"]) for e in events] == [
        ("trigger", f"scutum/cluster-a/{incident}"),
        ("resolve", f"scutum/cluster-a/{incident}"),
    ]
    assert events[0]["payload"]["severity"] == "warning"
    assert [(p["outcome"], p["action"], p["reason"]) for p in pages] == [
        ("sent", "trigger", "escalated"),
        ("sent", "resolve", "resolved"),
    ]


def test_a_failed_action_pages_under_its_incident(stub: PagerStub, sim: RunningSim, tmp_path: Path) -> None:
    from actions.base import ActionName
    from actions.registry import REGISTRY
    from risk.model import Proposal

    env = {
        "SCUTUM_PAGING__PAGERDUTY__ROUTING_KEY": "R" * 32,
        "SCUTUM_PAGING__PAGERDUTY__URL": stub.url + "/v2/enqueue",
        "SCUTUM_KUBE__URL": sim.url,
        "SCUTUM_DATA_DIR": str(tmp_path),
    }
    agent = build_agent(load_settings(None, env=env), clock=sim.cluster.clock.now, use_cache=False)
    action = REGISTRY[ActionName.RESTART_WORKLOAD]
    params = action.parse({"kind": "Deployment", "namespace": "shop", "name": "ghost", "restart_token": "t1"})
    proposal = Proposal(action.name, params, action.target(params), sim.cluster.clock.now())
    try:
        execution_id = agent.executor.submit_new(proposal, None, proposal_id=None)
        agent.executor.wait(timeout=30)
        assert agent.pager is not None
        agent.pager.close(wait=True)
    finally:
        agent.stop()

    (event,) = stub.bodies("/v2/enqueue")
    assert event["event_action"] == "trigger" and event["payload"]["class"] == "failed"
    assert event["dedup_key"].endswith(execution_id)  # no incident: the run's own key
    assert "target_exists" in event["payload"]["summary"]


def test_a_resolution_reaches_the_pager_its_severity_routed_trigger_went_to(stub: PagerStub) -> None:
    """A resolved incident holds no alert any more, so it has no severity: a resolution routed by
    severity went elsewhere (or nowhere) and the PagerDuty page stayed open for ever."""
    config = settings(stub, routes=[{"severities": ["critical"], "to": ["pagerduty"]}, {"to": ["opsgenie"]}])
    labels = {"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": "shop", "pod": "web-1"}
    firing = Alert("fp-1", "KubePodCrashLooping", labels, {}, NOW, None, True, False, AlertSource.WEBHOOK)
    intake = Intake()
    [incident] = intake.ingest([firing], now=NOW).new
    trigger = incident_page(incident, reason=PageReason.ESCALATED, text="nothing fits", now=NOW)
    assert route(trigger, config) == [PagerKind.PAGERDUTY]

    [closed] = intake.ingest([firing.resolved()], now=NOW + timedelta(minutes=5)).resolved
    assert PagerKind.PAGERDUTY in route(resolved_page(closed, now=NOW + timedelta(minutes=5)), config)
