"""Logging set-up and the filter that keeps personal data out of access logs."""

from __future__ import annotations

import logging
import sys
from urllib.parse import unquote

from callagent.auth.masking import mask_phone

# The segment after these in a path is an applicant's number (caller history, do-not-call).
_NUMBER_COLLECTIONS = frozenset({"callers", "do-not-call"})


def scrub_path(path: str) -> str:
    """A request path without phone numbers: segments that hold one are masked.

    A segment holds a number when it follows ``callers/`` or ``do-not-call/``, or when
    it has 7+ digits and is not a plain id (at most 10 digits, nothing else).
    """
    parts = path.split("/")
    for index, part in enumerate(parts):
        text = unquote(part)
        digits = sum(ch.isdigit() for ch in text)
        named = index > 0 and parts[index - 1] in _NUMBER_COLLECTIONS
        if named or (digits >= 7 and not (text.isdigit() and len(text) <= 10)):
            parts[index] = mask_phone(text) if digits else "…"
    return "/".join(parts)


class DropQueryStringFilter(logging.Filter):
    """Remove query strings and phone numbers in paths from uvicorn's access log lines.

    ``GET /api/v1/calls?phone=79161234567`` or ``GET /api/v1/callers/79161234567/history``
    would put an applicant's number in the log at INFO; the route alone says what was asked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            clean = scrub_path(path) + ("?…" if query else "")
            if clean != args[2]:
                record.args = (*args[:2], clean, *args[3:])
        return True


def install_access_log_filter() -> None:
    """Attach :class:`DropQueryStringFilter` to uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStringFilter) for f in logger.filters):
        logger.addFilter(DropQueryStringFilter())


def setup_logging(level: str) -> None:
    """Log to stderr at ``level``, access lines without query strings."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_access_log_filter()
    # httpx logs every request URL at INFO; webhook URLs may carry a receiver's key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
