"""The one kind of refusal the services raise, whatever their domain.

A service says what it cannot do and why with a :class:`ServiceError` (or a subclass);
it knows nothing of HTTP beyond the status number. The API turns every one of them into
the same JSON answer (``callagent.api.errors``), so no router maps them by hand.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request a service refuses: ``status`` is the HTTP status to answer with,
    ``detail`` says what was wrong and what to do, ``headers`` go with the answer."""

    status: int = 400

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
