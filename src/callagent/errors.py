"""The one kind of refusal the services raise, whatever their domain.

A service says what it cannot do and why with a :class:`ServiceError` (or a subclass);
it knows nothing of HTTP beyond the status number. The API turns every one of them into
the same JSON answer (``callagent.api.errors``), so no router maps them by hand.

A refusal a person may read on a page carries a stable ``code`` and its ``params``
(values, not words: states, statuses, numbers): the page says it in its own language
(``error_<code>`` in ``web/i18n``), while ``detail`` stays the English text API clients
have always had.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request a service refuses: ``status`` is the HTTP status to answer with,
    ``detail`` says what was wrong and what to do, ``headers`` go with the answer,
    ``code`` and ``params`` let a page say it in its language."""

    status: int = 400

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        code: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.code = code  # stable, for pages to translate; '' when there is none
        self.params = params or {}
