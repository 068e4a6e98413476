"""Which pagers a page goes to (pure): the first matching route, or every configured pager."""

from __future__ import annotations

from agent.paging.events import Page, PageAction
from agent.paging.settings import PagerKind, PagingRoute, PagingSettings


def _matches(route: PagingRoute, page: Page) -> bool:
    if route.namespaces and (page.namespace or "") not in route.namespaces:
        return False
    if route.severities and (page.severity or "").lower() not in {s.lower() for s in route.severities}:
        return False
    # A resolution follows its trigger wherever it went: the reason is not matched for it.
    return not (route.reasons and page.action is PageAction.TRIGGER and page.reason.value not in route.reasons)


def route(page: Page, settings: PagingSettings) -> list[PagerKind]:
    """The configured pagers this page goes to, in settings order; empty when none fits."""
    enabled = settings.enabled
    if not settings.routes:
        return enabled
    for rule in settings.routes:
        if _matches(rule, page):
            return [kind for kind in rule.to if kind in enabled]
    return []
