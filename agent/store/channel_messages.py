"""Message references of approval requests on chat channels other than Slack."""

from __future__ import annotations

from agent.store.database import Database
from agent.store.tables import ChannelMessageRow


class ChannelMessageRepository:
    """One message per request and channel (an `approvals.model.MessageRefs`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_ref(self, request_id: str, channel: str) -> str | None:
        """The message's id on `channel`, or None before it was posted."""
        with self._db.session() as session:
            row = session.get(ChannelMessageRow, (request_id, channel))
            return row.ref if row is not None else None

    def set_ref(self, request_id: str, channel: str, ref: str) -> None:
        """Remember (or replace) the message's id on `channel`."""
        with self._db.session(write_lock=True) as session:
            row = session.get(ChannelMessageRow, (request_id, channel)) or ChannelMessageRow(
                request_id=request_id, channel=channel, ref=ref
            )
            row.ref = ref
            session.add(row)
