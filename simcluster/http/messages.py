"""Request and response values passed between the HTTP handler and the API logic."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from simcluster.errors import BadRequest, StoreError
from simcluster.protobuf_bodies import KINDS, PROTOBUF, UnsupportedProtobufKind, decode_body

Obj = dict[str, Any]

_UNSUPPORTED_MEDIA = frozenset({"application/cbor", "application/apply-patch+cbor"})


class UnsupportedMediaType(StoreError):
    """415: a body in an encoding the simulated server does not decode."""

    code, reason = 415, "UnsupportedMediaType"


@dataclass(frozen=True)
class Request:
    """One HTTP request, already split into its parts; header names are lower case."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw_query: str = ""

    def json_body(self) -> Any:
        """The body parsed as JSON (or YAML, which server-side apply sends, or the protobuf that
        kubectl's generator commands send, for the kinds `simcluster.protobuf_bodies` knows);
        400 if unreadable, 415 for CBOR or a protobuf kind without a field table."""
        media = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in _UNSUPPORTED_MEDIA:
            raise UnsupportedMediaType(f"the body of a request must be JSON or YAML, not {media}")
        if not self.body.strip():
            raise BadRequest("the request body is empty")
        if media == PROTOBUF:
            return self._protobuf_body()
        try:
            return json.loads(self.body)
        except ValueError:
            pass
        try:
            return yaml.safe_load(self.body.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise BadRequest(f"unable to decode the request body: {exc}") from None

    def _protobuf_body(self) -> Any:
        try:
            return decode_body(self.body)
        except UnsupportedProtobufKind as exc:
            known = ", ".join(f"{v}/{k}" if "/" in v else f"{v} {k}" for v, k in sorted(KINDS))
            raise UnsupportedMediaType(
                f"a protobuf body is decoded only for {known}, not {exc}; send JSON or YAML"
            ) from None

    @property
    def dry_run(self) -> bool:
        """Whether the write is a server-side dry run (`dryRun=All`)."""
        return self.query.get("dryRun", "") == "All"

    def wants_table(self) -> bool:
        """Whether the client asked for `meta.k8s.io` Table output (kubectl get)."""
        return "as=Table" in self.headers.get("accept", "")


@dataclass(frozen=True)
class Response:
    """A complete response, or a stream of body chunks (watch) when `stream` is set."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (Retry-After)."""

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        """A JSON response."""
        return cls(status, json.dumps(payload, separators=(",", ":")).encode())

    @classmethod
    def error(cls, exc: StoreError) -> Response:
        """The `Status` object for an API error."""
        return cls.json(exc.code, exc.status())

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        """A plain text response."""
        return cls(status, text.encode(), content_type="text/plain; charset=utf-8")


def status_success(code: int = 200, details: Obj | None = None) -> Obj:
    """A `Status` object reporting success."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code} | (
        {"details": details} if details else {}
    )
