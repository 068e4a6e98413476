"""Paging: escalations reach on-call through PagerDuty Events API v2 and Opsgenie's Alert API.

`events` builds the vendors' request bodies from a `Page` (pure), `routing` picks the pagers
for a page from settings (pure), and `sender` delivers them on a worker thread with retries,
counting and auditing every failure.
"""

from agent.paging.events import Page, PageAction, PageReason
from agent.paging.sender import Pager, PagerTransport
from agent.paging.settings import PagerKind, PagingRoute, PagingSettings

__all__ = [
    "Page",
    "PageAction",
    "PageReason",
    "Pager",
    "PagerKind",
    "PagerTransport",
    "PagingRoute",
    "PagingSettings",
]
