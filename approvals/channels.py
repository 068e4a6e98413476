"""Several approval channels at once: each request is shown on every configured chat."""

from __future__ import annotations

from collections.abc import Sequence

from approvals.model import ApprovalRequest
from approvals.queue import ApprovalNotifier


class AllChannels:
    """An `ApprovalNotifier` that shows each request on every channel (each never raises)."""

    def __init__(self, channels: Sequence[ApprovalNotifier]) -> None:
        self._channels = tuple(channels)

    def publish(self, request: ApprovalRequest) -> None:
        for channel in self._channels:
            channel.publish(request)

    def publish_result(self, request: ApprovalRequest) -> None:
        for channel in self._channels:
            channel.publish_result(request)
