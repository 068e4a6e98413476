"""Alert and model text in Slack messages cannot mention, link or format."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from approvals.model import ApprovalState
from approvals.render import literal, request_message, result_reply
from approvals.settings import SlackSettings
from approvals.slack import SlackChannel
from tests.approvals.conftest import World, risk
from tests.approvals.fake_slack import FakeSlack
from tests.approvals.render_cases import base

HOSTILE = "<!channel> *urgent* `x` _now_ <https://evil.example/login|Approve here> @here ~gone~"
OUR_MARKUP = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]*>|<@[A-Z0-9]+>")


def mrkdwn_texts(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


def assert_inert(message: dict[str, Any]) -> None:
    for text in mrkdwn_texts(message):
        assert text["verbatim"] is True
        without_ours = OUR_MARKUP.sub("", text["text"])
        assert "<" not in without_ours and ">" not in without_ours
    assert "<!channel>" not in message["text"] and "<https" not in message["text"]


def test_a_hostile_alertname_is_shown_as_inert_code() -> None:
    message = request_message(base(incident_summary=HOSTILE))
    assert_inert(message)
    summary = message["blocks"][1]["text"]["text"]
    assert "`&lt;!channel&gt; *urgent* \u02cbx\u02cb _now_ &lt;https://evil.example/login|Approve here&gt;" in summary


def test_model_and_api_text_in_results_and_reasons_is_inert() -> None:
    scored = risk(0.7).as_json()
    scored["components"]["blast_radius"]["reasons"] = [HOSTILE]
    message = request_message(base(risk=scored, state=ApprovalState.FAILED, result=HOSTILE))
    assert_inert(message)
    assert_inert(result_reply(base(state=ApprovalState.FAILED, result=HOSTILE)))


@given(st.text(max_size=300))
def test_any_text_becomes_one_code_span(text: str) -> None:
    shown = literal(text)
    assert shown.startswith("`") and shown.endswith("`") and shown.count("`") == 2
    assert "<" not in shown and ">" not in shown and "\n" not in shown


@given(summary=st.text(max_size=200), result=st.text(max_size=200))
def test_no_summary_or_result_can_add_markup(summary: str, result: str) -> None:
    assert_inert(request_message(base(incident_summary=summary, state=ApprovalState.SUCCEEDED, result=result)))


def test_notices_are_escaped_and_sent_without_auto_links(
    world: World, slack_settings: SlackSettings, fake_slack: FakeSlack
) -> None:
    channel = SlackChannel(
        slack_settings, repository=world.repo, audit=world.audit, escalation_mention="<!subteam^SONCALL>"
    )
    channel.post_notice(f"Escalated: {HOSTILE}\x00\u202e")
    [call] = fake_slack.calls_to("chat.postMessage")
    text = str(call.args["text"])
    assert text.startswith("<!subteam^SONCALL> Escalated: &lt;!channel&gt;")
    assert "\x00" not in text and "\u202e" not in text
    assert call.args["parse"] == "none" and call.args["unfurl_links"] is False
    assert json.dumps(call.args).count("<!") == 1  # only the configured mention
