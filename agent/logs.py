"""Structured logging: JSON lines in production, key=value on a terminal.

Log event names, not sentences: ``log.info("execution_claimed", owner=...)``. Bind the ids of
what is being worked on with `bind_ids`. Secrets never reach the output: `SecretStr` values
and keys that name a secret are masked by a processor.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from pydantic import SecretStr

from actions.untrusted import clean_text
from agent.settings import REDACTED, JsonLogs, LoggingSettings

SECRET_KEY_PARTS = ("password", "secret", "token", "api_key", "apikey", "hmac_key", "authorization", "signing")
"""A log key containing any of these is masked whatever its value."""


def mask_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: replace secret values with a fixed mask."""
    for key, value in list(event.items()):
        lowered = key.lower()
        if isinstance(value, SecretStr) or any(part in lowered for part in SECRET_KEY_PARTS):
            event[key] = REDACTED
    return event


MAX_LOGGED_CHARS = 2000
"""Longest string value written to a log line; untrusted text is cleaned and cut to this."""


def clean_values(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: string values lose control and bidi characters (no terminal escapes,
    no forged log lines from alert or model text) and are capped in length."""
    for key, value in list(event.items()):
        if isinstance(value, str) and key != "exception":
            event[key] = clean_text(value, limit=MAX_LOGGED_CHARS)
    return event


QUIET_LIBRARIES = ("apscheduler", "httpx", "alembic", "uvicorn.access")
"""Libraries that log every poll or request at INFO: kept at WARNING unless asked for DEBUG."""


def configure_logging(
    settings: LoggingSettings | None = None, *, stream: TextIO | None = None, isatty: bool | None = None
) -> None:
    """Set up structlog (and the standard library's root logger) once for the process."""
    settings = settings or LoggingSettings()
    out = stream or sys.stderr
    tty = out.isatty() if isatty is None else isatty
    as_json = settings.json_lines == JsonLogs.TRUE or (settings.json_lines == JsonLogs.AUTO and not tty)
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=tty, sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_secrets,
            clean_values,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # The libraries' own loggers (alembic, apscheduler, httpx, uvicorn) go through the same
    # renderer, so a log collector sees one format; their routine chatter stays below INFO.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                mask_secrets,
                clean_values,
                renderer,
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for chatty in QUIET_LIBRARIES:
        logging.getLogger(chatty).setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    """A logger; `name` is bound as `logger`."""
    log: structlog.typing.FilteringBoundLogger = structlog.get_logger()
    return log.bind(logger=name) if name else log


def bind_ids(
    log: structlog.typing.FilteringBoundLogger,
    *,
    incident_id: str | None = None,
    proposal_id: str | None = None,
    action_id: str | None = None,
) -> structlog.typing.FilteringBoundLogger:
    """`log` with the given work ids bound (None values are left out)."""
    ids = {"incident_id": incident_id, "proposal_id": proposal_id, "action_id": action_id}
    return log.bind(**{key: value for key, value in ids.items() if value is not None})
