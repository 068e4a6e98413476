"""Which pagers a page goes to (pure): the first matching route, or every configured pager.

A resolution goes to every configured pager: a resolved incident holds no alert, so its
severity (and, without a target, its namespace) is gone and routes cannot find where its
trigger went; the pagers ignore a resolution of a page they never opened.
"""

from __future__ import annotations

from agent.paging.events import Page, PageAction
from agent.paging.settings import PagerKind, PagingRoute, PagingSettings


def _matches(route: PagingRoute, page: Page) -> bool:
    if route.namespaces and (page.namespace or "") not in route.namespaces:
        return False
    if route.severities and (page.severity or "").lower() not in {s.lower() for s in route.severities}:
        return False
    return not (route.reasons and page.reason.value not in route.reasons)


def route(page: Page, settings: PagingSettings) -> list[PagerKind]:
    """The configured pagers this page goes to, in settings order; empty when none fits."""
    enabled = settings.enabled
    if not settings.routes or page.action is PageAction.RESOLVE:
        return enabled
    for rule in settings.routes:
        if _matches(rule, page):
            return [kind for kind in rule.to if kind in enabled]
    return []
