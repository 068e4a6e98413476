"""Socket Mode: the slack_bolt listener applies clicks with the same logic, without connecting."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

from slack_bolt.request import BoltRequest

from approvals.render import APPROVE_ACTION_ID
from approvals.settings import SlackSettings
from approvals.slack import SlackChannel
from approvals.slack_interactions import ClickHandler, socket_mode_handler
from tests.approvals.conftest import World, click_body
from tests.approvals.fake_slack import FakeSlack


def test_socket_mode_click_approves_once_through_the_bolt_listener(
    world: World, slack_settings: SlackSettings, fake_slack: FakeSlack
) -> None:
    settings = SlackSettings.model_validate(slack_settings.model_dump() | {"mode": "socket", "app_token": "xapp-test"})
    channel = SlackChannel(settings, repository=world.repo, audit=world.audit)
    world.queue = world.build_queue(channel)
    clicks = ClickHandler(world.queue, channel)
    handler = socket_mode_handler(settings, clicks, channel, clock=world.clock, process_before_response=True)
    request = world.ask(0.6)
    payload = json.loads(parse_qs(click_body(APPROVE_ACTION_ID, request.id, user="UALICE").decode())["payload"][0])
    for _ in range(2):
        response = handler.app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
        assert response.status == 200
    assert world.runs == [request.id]


def test_socket_mode_clicks_are_acked_and_handed_to_the_decision_queue(
    world: World, slack_settings: SlackSettings, fake_slack: FakeSlack
) -> None:
    settings = SlackSettings.model_validate(slack_settings.model_dump() | {"mode": "socket", "app_token": "xapp-test"})
    channel = SlackChannel(settings, repository=world.repo, audit=world.audit)
    world.queue = world.build_queue(channel)
    queued: list[Callable[[], None]] = []

    def submit(job: Callable[[], None]) -> bool:
        queued.append(job)
        return True

    clicks = ClickHandler(world.queue, channel)
    handler = socket_mode_handler(
        settings, clicks, channel, clock=world.clock, process_before_response=True, submit=submit
    )
    request = world.ask(0.6)
    payload = json.loads(parse_qs(click_body(APPROVE_ACTION_ID, request.id, user="UALICE").decode())["payload"][0])

    assert handler.app.dispatch(BoltRequest(body=payload, mode="socket_mode")).status == 200
    assert world.runs == [] and len(queued) == 1  # acknowledged; applied by the queue's worker
    queued[0]()
    assert world.runs == [request.id]
