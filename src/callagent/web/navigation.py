"""The navigation bar of every page: the pages of the web app and the scope each needs.

One list, so that every page shows the same bar and a user sees only the pages their
role may open (the route walker in tests/test_security.py checks the same scopes on the
pages themselves). A page appears once its route is mounted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from callagent.auth.scopes import Scope


@dataclass(frozen=True, slots=True)
class NavPage:
    """A page in the bar: its path, the i18n key of its label, the scopes it needs."""

    path: str
    label: str
    needs: frozenset[Scope]


NAV_PAGES: tuple[NavPage, ...] = (
    NavPage("/supervisor/live", "nav_live", frozenset({Scope.REPORTS_READ})),
    NavPage("/supervisor/reports", "nav_reports", frozenset({Scope.REPORTS_READ})),
    NavPage("/supervisor/planning", "nav_planning", frozenset({Scope.REPORTS_READ})),
    NavPage("/supervisor/campaigns", "nav_campaigns", frozenset({Scope.CAMPAIGNS_READ})),
    NavPage("/operator", "nav_workplace", frozenset({Scope.OPERATORS_STATE})),
    NavPage("/calls", "nav_calls", frozenset({Scope.CALLS_READ})),
    NavPage("/questions", "nav_questions", frozenset({Scope.QUESTIONS_READ})),
    NavPage("/complaints", "nav_complaints", frozenset({Scope.COMPLAINTS_READ})),
    NavPage("/quality", "nav_quality", frozenset({Scope.QUALITY_READ})),
    NavPage("/supervisor/callbacks", "nav_callbacks", frozenset({Scope.CALLBACKS_READ})),
    NavPage("/admin/users", "nav_users", frozenset({Scope.OPERATORS_ADMIN})),
    NavPage("/admin/tokens", "nav_tokens", frozenset({Scope.TOKENS_ADMIN})),
    NavPage("/admin/webhooks", "nav_webhooks", frozenset({Scope.WEBHOOKS_ADMIN})),
    NavPage("/admin/do-not-call", "nav_dnc", frozenset({Scope.CAMPAIGNS_WRITE})),
)

# Where a login may lead (?next=): the web app's pages, never another site.
PAGE_PREFIXES: tuple[str, ...] = (
    "/home",
    "/operator",
    "/supervisor",
    "/calls",
    "/questions",
    "/complaints",
    "/quality",
    "/admin",
)


def nav_for(
    scopes: Collection[Scope], mounted: Iterable[str], words: dict[str, str]
) -> list[tuple[str, str]]:
    """(path, label) of each page that ``scopes`` may open, among the ``mounted`` paths."""
    have = set(mounted)
    return [
        (page.path, words[page.label])
        for page in NAV_PAGES
        if page.path in have and page.needs <= set(scopes)
    ]
