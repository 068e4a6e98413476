"""Intake: Alertmanager alerts (poll and webhook) become typed alerts, then incidents."""

from agent.intake.alerts import (
    UNDESCRIBED,
    Alert,
    AlertSource,
    ParsedBatch,
    RejectedAlert,
    parse_gettable_alerts,
    parse_webhook,
)
from agent.intake.incidents import (
    CloseReason,
    IgnoredAlert,
    IgnoreReason,
    Incident,
    IncidentState,
    Intake,
    IntakeLimits,
    IntakeResult,
)

__all__ = [
    "UNDESCRIBED",
    "Alert",
    "AlertSource",
    "CloseReason",
    "IgnoreReason",
    "IgnoredAlert",
    "Incident",
    "IncidentState",
    "Intake",
    "IntakeLimits",
    "IntakeResult",
    "ParsedBatch",
    "RejectedAlert",
    "parse_gettable_alerts",
    "parse_webhook",
]
