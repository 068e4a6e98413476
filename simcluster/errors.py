"""API errors, each carrying what a real server puts in its `Status` object."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class StoreError(Exception):
    """An API error, carrying what the server puts in its `Status` object."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: Obj | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        """The `Status` object a real API server would answer with."""
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


class BadRequest(StoreError):
    code, reason = 400, "BadRequest"


class NotFound(StoreError):
    code, reason = 404, "NotFound"


class AlreadyExists(StoreError):
    code, reason = 409, "AlreadyExists"


class Conflict(StoreError):
    code, reason = 409, "Conflict"


class Invalid(StoreError):
    code, reason = 422, "Invalid"


class TooManyRequests(StoreError):
    code, reason = 429, "TooManyRequests"


class Gone(StoreError):
    code, reason = 410, "Expired"
