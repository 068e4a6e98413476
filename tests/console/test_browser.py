"""The console in a real headless browser, on a demo-like world: incidents appear, an incident's
decomposition reads, an allowed user approves, others are refused, and alert text runs no script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from approvals.model import ApprovalState, VoteChannel
from tests.console.browser import click, headless_chromium, send_identity, wait_until
from tests.console.world import ALLOWED, HOSTILE_LABEL, HOSTILE_NAME, IDENTITY_HEADER, NOT_ALLOWED, ConsoleWorld

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[Chrome]:
    with headless_chromium() as driver:
        yield driver


def _rows(driver: Chrome) -> list[str]:
    return [str(r.get_attribute("data-id")) for r in driver.find_elements(By.CSS_SELECTOR, "tr.incident-row")]


def test_incidents_appear_and_one_reads_its_decomposition(browser: Chrome, world: ConsoleWorld) -> None:
    browser.get(world.url + "/")
    assert _rows(browser) == []
    handled = world.incident_needing_approval()
    incident_id = handled.evaluation.incident.id
    wait_until(lambda: incident_id in _rows(browser), what="the new incident to appear by auto-refresh")

    click(browser, f'tr[data-id="{incident_id}"] a')
    wait_until(lambda: bool(browser.find_elements(By.ID, "risk-reasons")), what="the incident page")
    risk = handled.evaluation.risk
    assert risk is not None
    assert browser.find_element(By.ID, "risk-total").text == f"{risk.total:.2f}"
    for component, part in risk.components.items():
        bar = browser.find_element(By.CSS_SELECTOR, f'#risk-chart rect.bar-fill[data-component="{component.value}"]')
        assert bar.get_attribute("width") == str(round(part.score * 300))
        reasons = browser.find_element(By.CSS_SELECTOR, f'#risk-reasons tr[data-component="{component.value}"]').text
        assert all(reason in reasons for reason in part.reasons)
    steps = browser.find_element(By.ID, "timeline").text
    assert "Verdict: approve" in steps and "Approval requested" in steps


def _vote_on(browser: Chrome, world: ConsoleWorld, request_id: str) -> str:
    click(browser, f'tr[data-id="{request_id}"] button.approve')
    wait_until(lambda: bool(browser.find_elements(By.ID, "notice")), what="the vote's answer")
    return str(browser.find_element(By.ID, "notice").text)


def test_an_allowed_user_approves_a_pending_request(browser: Chrome, world: ConsoleWorld) -> None:
    request_id = str(world.incident_needing_approval().approval_id)
    send_identity(browser, {IDENTITY_HEADER: ALLOWED})
    browser.get(world.url + "/approvals")
    countdown = browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{request_id}"] time.countdown')
    wait_until(lambda: countdown.get_attribute("data-live") == "1", what="the countdown script")
    assert countdown.text in ("4h 00m", "3h 59m")  # against the server's (simulated) clock, not the browser's

    assert _vote_on(browser, world, request_id).startswith(f"Approved {request_id}")
    request = world.agent.approvals.get(request_id)
    assert request is not None and request.state is not ApprovalState.PENDING
    assert [(v.approver, v.channel) for v in request.votes] == [(ALLOWED, VoteChannel.CONSOLE)]


def test_approval_is_refused_for_a_user_not_on_the_list(browser: Chrome, world: ConsoleWorld) -> None:
    request_id = str(world.incident_needing_approval().approval_id)
    send_identity(browser, {IDENTITY_HEADER: NOT_ALLOWED})
    browser.get(world.url + "/approvals")
    assert "not on the console approver list" in _vote_on(browser, world, request_id)
    assert world.agent.approvals.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]


def test_approval_is_refused_for_a_request_without_the_proxy_header(browser: Chrome, world: ConsoleWorld) -> None:
    request_id = str(world.incident_needing_approval().approval_id)
    send_identity(browser, {IDENTITY_HEADER: ALLOWED})
    browser.get(world.url + "/approvals")
    send_identity(browser, {})  # the form was rendered for alice; the POST arrives without the proxy
    assert "no signed-in user" in _vote_on(browser, world, request_id)
    assert world.agent.approvals.get(request_id).state is ApprovalState.PENDING  # type: ignore[union-attr]
    browser.get(world.url + "/approvals")
    assert not browser.find_elements(By.CSS_SELECTOR, "button.approve")  # read-only without the header


def test_no_script_runs_from_an_alerts_text(browser: Chrome, world: ConsoleWorld) -> None:
    (handled,) = world.hostile_alert()
    send_identity(browser, {IDENTITY_HEADER: ALLOWED})
    browser.get(world.url + "/")
    assert HOSTILE_NAME in browser.find_element(By.CSS_SELECTOR, "tr.incident-row td.alerts").text
    browser.get(world.url + f"/incidents/{handled.evaluation.incident.id}")
    labels = browser.find_element(By.ID, "alerts-section").text
    assert HOSTILE_NAME in labels and HOSTILE_LABEL in labels  # shown as text
    assert browser.execute_script("return window.__pwned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img")


def test_no_page_breaks_its_own_content_security_policy(browser: Chrome, world: ConsoleWorld) -> None:
    handled = world.incident_needing_approval()
    send_identity(browser, {IDENTITY_HEADER: ALLOWED})
    for path in ("/", f"/incidents/{handled.evaluation.incident.id}", "/approvals", "/evidence", "/reports"):
        browser.get(world.url + path)
        assert browser.find_element(By.TAG_NAME, "h1").text
    logs = browser.get_log("browser")  # type: ignore[no-untyped-call]  # selenium leaves it untyped
    messages = [str(entry.get("message", "")) for entry in logs]
    assert not [m for m in messages if "Content Security Policy" in m or "Refused to" in m], messages
