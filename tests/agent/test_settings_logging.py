"""Logging as configured from the `logging` settings: JSON off a terminal, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from agent.logs import bind_ids, configure_logging, get_logger
from agent.settings import REDACTED, JsonLogs, LoggingSettings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_when_not_a_terminal_with_bound_ids() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(), stream=out, isatty=False)

    bind_ids(get_logger("executor"), incident_id="inc-1", action_id="act-7").info("execution_claimed", owner="r1")

    line = json.loads(out.getvalue())
    assert line["event"] == "execution_claimed"
    assert (line["incident_id"], line["action_id"], line["owner"], line["level"]) == ("inc-1", "act-7", "r1", "info")
    assert "proposal_id" not in line


def test_key_value_on_a_terminal() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(json_lines=JsonLogs.AUTO), stream=out, isatty=True)

    get_logger().warning("lease_lost", lease="scutum-leader")

    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # the terminal renderer colours its output
    assert "lease_lost" in text
    assert "lease=scutum-leader" in text
    assert not text.startswith("{")


def test_secrets_are_never_written() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(json_lines=JsonLogs.TRUE), stream=out, isatty=True)

    get_logger().info("llm_request", api_key="sk-live-1", token="xoxb-2", key=SecretStr("k"), model="small")

    line = json.loads(out.getvalue())
    assert "sk-live-1" not in out.getvalue()
    assert "xoxb-2" not in out.getvalue()
    assert line["api_key"] == line["token"] == line["key"] == REDACTED
    assert line["model"] == "small"


def test_level_filters_lower_events() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(level="warning", json_lines=JsonLogs.TRUE), stream=out)

    get_logger().info("noise")
    get_logger().error("failure")

    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["failure"]


def test_library_loggers_share_the_json_format_and_their_chatter_is_quiet() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(level="info"), stream=out, isatty=False)
    logging.getLogger("alembic.runtime").warning("schema %s", "upgraded")
    logging.getLogger("apscheduler.executors").info("job ran")  # every poll: not worth a line
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "event": "schema upgraded",
            "level": "warning",
            "logger": "alembic.runtime",
            "timestamp": lines[0]["timestamp"],
        }
    ]


def test_debug_lets_the_library_chatter_through() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(level="debug"), stream=out, isatty=False)
    logging.getLogger("apscheduler.executors").info("job ran")
    assert json.loads(out.getvalue())["event"] == "job ran"


def test_untrusted_text_cannot_write_terminal_escapes_or_forge_lines() -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(json_lines=JsonLogs.FALSE), stream=out, isatty=False)

    get_logger().warning("alert_rejected", reason="x\x1b[2J\nlevel=info event=forged\u202e" + "y" * 10_000)

    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text
    assert text.count("\n") == 1  # one event, one line
    assert len(text) < 2_500
